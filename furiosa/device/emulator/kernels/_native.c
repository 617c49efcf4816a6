/*
 * Loops of the emulated NPU's int8 kernels that numpy would run in several passes.
 *
 * Each function does exactly what the numpy definition in the Python kernels does, in one pass
 * over memory and without the interpreter lock:
 *
 *   im2col       stored int8 activations (C, H, W) -> the patch matrix (C*kh*kw, oh*ow), one row
 *                per tap, optionally with the sign bit flipped (uint8 = stored + 128), padding
 *                filled with a given byte;
 *   requant      int32 accumulators -> stored int8: r = double(acc + bias) * double(M) + zp,
 *                clamped to [lo, hi], rounded half to even, minus the storage offset
 *                (furiosa.common.qmath.requantize, with a fused activation's bounds folded
 *                into [lo, hi]); rows of (pixels, channels) or planes of (channels, pixels);
 *   depthwise    exact int32 sums of (x - zero) * w over each window of a depthwise conv;
 *   pair_lut     out[i] = lut[(uint8(a[i]) << 8) | uint8(b[i])] (two-input lookup tables).
 *
 * Floating-point contraction is disabled at build time (-ffp-contract=off): the product and
 * the addition of the zero point are rounded separately, as numpy rounds them. Rounding half
 * to even uses the 1.5 * 2**52 trick, exact for |r| < 2**51 in the default rounding mode.
 * Every buffer's length is checked against the dimensions before any access.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define WIDE __attribute__((target_clones("avx2", "default")))
#else
#define WIDE
#endif

static const double ROUND_MAGIC = 6755399441055744.0; /* 1.5 * 2**52 */

static inline int8_t requant_one(double acc, double mult, double zp, double lo, double hi, int offset) {
    double r = acc * mult;
    r += zp;
    r = r < lo ? lo : r;
    r = r > hi ? hi : r;
    r = (r + ROUND_MAGIC) - ROUND_MAGIC;
    return (int8_t)((int)r - offset);
}

/* --- im2col ----------------------------------------------------------------------------- */
typedef struct {
    Py_ssize_t c, h, w, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow;
} Geometry;

/* Output columns [*first, *last) of a row whose input column ox * sw + shift lies in [0, w). */
static void inside(const Geometry *g, Py_ssize_t shift, Py_ssize_t *first, Py_ssize_t *last) {
    Py_ssize_t a = 0, b = g->ow;
    while (a < b && a * g->sw + shift < 0) a++;
    while (b > a && (b - 1) * g->sw + shift >= g->w) b--;
    *first = a;
    *last = b;
}

/* Rows (c, ky, kx) of channels [c0, c1) of the patch matrix (C * kh * kw, oh * ow): each row is
 * the input plane seen through one tap, bytes XORed with `flip`, `pad` where the tap falls
 * outside the input. */
static void im2col_loop(const int8_t *x, uint8_t *out, const Geometry *g, Py_ssize_t c0, Py_ssize_t c1,
                        uint8_t flip, uint8_t pad) {
    const Py_ssize_t pixels = g->oh * g->ow;
    for (Py_ssize_t ch = c0; ch < c1; ch++) {
        const uint8_t *plane = (const uint8_t *)x + ch * g->h * g->w;
        for (Py_ssize_t ky = 0; ky < g->kh; ky++) {
            for (Py_ssize_t kx = 0; kx < g->kw; kx++) {
                uint8_t *row = out + ((ch * g->kh + ky) * g->kw + kx) * pixels;
                const Py_ssize_t shift = kx * g->dw - g->pl;
                Py_ssize_t first, last;
                inside(g, shift, &first, &last);
                for (Py_ssize_t oy = 0; oy < g->oh; oy++) {
                    uint8_t *seg = row + oy * g->ow;
                    const Py_ssize_t iy = oy * g->sh + ky * g->dh - g->pt;
                    if (iy < 0 || iy >= g->h || first >= last) {
                        memset(seg, pad, (size_t)g->ow);
                        continue;
                    }
                    const uint8_t *line = plane + iy * g->w;
                    memset(seg, pad, (size_t)first);
                    if (g->sw == 1) {
                        const uint8_t *src = line + shift;
                        for (Py_ssize_t ox = first; ox < last; ox++) seg[ox] = src[ox] ^ flip;
                    } else {
                        for (Py_ssize_t ox = first; ox < last; ox++) seg[ox] = line[ox * g->sw + shift] ^ flip;
                    }
                    memset(seg + last, pad, (size_t)(g->ow - last));
                }
            }
        }
    }
}

static int bad_geometry(const Geometry *g) {
    return g->c <= 0 || g->h <= 0 || g->w <= 0 || g->kh <= 0 || g->kw <= 0 || g->sh <= 0 || g->sw <= 0 ||
           g->dh <= 0 || g->dw <= 0 || g->pt < 0 || g->pl < 0 || g->oh <= 0 || g->ow <= 0;
}

/* im2col(x, out, c, h, w, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow, c0, c1, flip, pad) */
static PyObject *im2col(PyObject *self, PyObject *args) {
    Py_buffer x, out;
    Geometry g;
    Py_ssize_t c0, c1;
    int flip, pad;
    if (!PyArg_ParseTuple(args, "y*w*nnnnnnnnnnnnnnnii", &x, &out, &g.c, &g.h, &g.w, &g.kh, &g.kw, &g.sh, &g.sw,
                          &g.dh, &g.dw, &g.pt, &g.pl, &g.oh, &g.ow, &c0, &c1, &flip, &pad))
        return NULL;
    if (bad_geometry(&g) || c0 < 0 || c1 > g.c || c1 < c0 || x.len < g.c * g.h * g.w ||
        out.len < g.c * g.kh * g.kw * g.oh * g.ow) {
        PyBuffer_Release(&x);
        PyBuffer_Release(&out);
        PyErr_SetString(PyExc_ValueError, "im2col: buffers do not match the geometry");
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    im2col_loop((const int8_t *)x.buf, (uint8_t *)out.buf, &g, c0, c1, (uint8_t)flip, (uint8_t)pad);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&x);
    PyBuffer_Release(&out);
    Py_RETURN_NONE;
}

/* --- requantization ----------------------------------------------------------------------- */
typedef struct {
    double zp, lo, hi;
    int offset;
} Output;

/* acc (rows, n) row-major -> out (rows, n): channel = column. */
WIDE static void requant_rows_loop(const int32_t *acc, const int32_t *bias, const double *mult, int8_t *out,
                                   Py_ssize_t rows, Py_ssize_t n, Output o) {
    for (Py_ssize_t r = 0; r < rows; r++) {
        const int32_t *a = acc + r * n;
        int8_t *y = out + r * n;
        for (Py_ssize_t j = 0; j < n; j++)
            y[j] = requant_one((double)a[j] + (double)bias[j], mult[j], o.zp, o.lo, o.hi, o.offset);
    }
}

/* acc (n, inner) planar -> out (n, inner): channel = plane. */
WIDE static void requant_planes_loop(const int32_t *acc, const int32_t *bias, const double *mult, int8_t *out,
                                     Py_ssize_t n, Py_ssize_t inner, Output o) {
    for (Py_ssize_t j = 0; j < n; j++) {
        const double m = mult[j], b = (double)bias[j];
        const int32_t *a = acc + j * inner;
        int8_t *y = out + j * inner;
        for (Py_ssize_t i = 0; i < inner; i++)
            y[i] = requant_one((double)a[i] + b, m, o.zp, o.lo, o.hi, o.offset);
    }
}

/* requant(acc, bias, mult, out, rows, n, mode, zp, lo, hi, offset)
 * mode 0: acc (rows, n), channel = column; mode 1: acc (n, rows), channel = plane. */
static PyObject *requant(PyObject *self, PyObject *args) {
    Py_buffer acc, bias, mult, out;
    Py_ssize_t rows, n;
    int mode, offset;
    Output o;
    if (!PyArg_ParseTuple(args, "y*y*y*w*nniddd" "i", &acc, &bias, &mult, &out, &rows, &n, &mode, &o.zp, &o.lo,
                          &o.hi, &offset))
        return NULL;
    o.offset = offset;
    const Py_ssize_t total = rows * n;
    if (rows < 0 || n <= 0 || mode < 0 || mode > 1 || acc.len < total * 4 || bias.len < n * 4 ||
        mult.len < n * 8 || out.len < total || !(o.lo <= o.hi) || o.lo < -1024 || o.hi > 1024) {
        PyBuffer_Release(&acc); PyBuffer_Release(&bias); PyBuffer_Release(&mult); PyBuffer_Release(&out);
        PyErr_SetString(PyExc_ValueError, "requant: buffers do not match the dimensions");
        return NULL;
    }
    const int32_t *a = (const int32_t *)acc.buf, *b = (const int32_t *)bias.buf;
    const double *m = (const double *)mult.buf;
    int8_t *y = (int8_t *)out.buf;
    Py_BEGIN_ALLOW_THREADS
    if (mode == 0)
        requant_rows_loop(a, b, m, y, rows, n, o);
    else
        requant_planes_loop(a, b, m, y, n, rows, o);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&acc); PyBuffer_Release(&bias); PyBuffer_Release(&mult); PyBuffer_Release(&out);
    Py_RETURN_NONE;
}

/* --- depthwise convolution ------------------------------------------------------------------ */
WIDE static void depthwise_loop(const int8_t *x, const int32_t *w, int32_t *out, const Geometry *g, int zero,
                                Py_ssize_t c0, Py_ssize_t c1) {
    const Py_ssize_t taps = g->kh * g->kw, ow = g->ow, oh = g->oh;
    for (Py_ssize_t ch = c0; ch < c1; ch++) {
        const int8_t *plane = x + ch * g->h * g->w;
        const int32_t *wc = w + ch * taps;
        int32_t *y = out + ch * oh * ow;
        memset(y, 0, sizeof(int32_t) * (size_t)(oh * ow));
        for (Py_ssize_t ky = 0; ky < g->kh; ky++) {
            for (Py_ssize_t kx = 0; kx < g->kw; kx++) {
                const int32_t tap = wc[ky * g->kw + kx];
                if (tap == 0) continue;
                for (Py_ssize_t oy = 0; oy < oh; oy++) {
                    const Py_ssize_t iy = oy * g->sh + ky * g->dh - g->pt;
                    if (iy < 0 || iy >= g->h) continue;
                    const int8_t *line = plane + iy * g->w;
                    int32_t *yrow = y + oy * ow;
                    const Py_ssize_t shift = kx * g->dw - g->pl;
                    Py_ssize_t first, last;
                    inside(g, shift, &first, &last);
                    if (g->sw == 1) {
                        const int8_t *src = line + shift;
                        for (Py_ssize_t ox = first; ox < last; ox++)
                            yrow[ox] += ((int32_t)src[ox] - zero) * tap;
                    } else {
                        for (Py_ssize_t ox = first; ox < last; ox++)
                            yrow[ox] += ((int32_t)line[ox * g->sw + shift] - zero) * tap;
                    }
                }
            }
        }
    }
}

/* depthwise(x, w, out, c, h, w, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow, zero, c0, c1) */
static PyObject *depthwise(PyObject *self, PyObject *args) {
    Py_buffer x, w, out;
    Geometry g;
    Py_ssize_t c0, c1;
    int zero;
    if (!PyArg_ParseTuple(args, "y*y*w*nnnnnnnnnnnnninn", &x, &w, &out, &g.c, &g.h, &g.w, &g.kh, &g.kw, &g.sh,
                          &g.sw, &g.dh, &g.dw, &g.pt, &g.pl, &g.oh, &g.ow, &zero, &c0, &c1))
        return NULL;
    if (bad_geometry(&g) || c0 < 0 || c1 > g.c || c1 < c0 || zero < -128 || zero > 127 ||
        x.len < g.c * g.h * g.w || w.len < g.c * g.kh * g.kw * 4 || out.len < g.c * g.oh * g.ow * 4) {
        PyBuffer_Release(&x); PyBuffer_Release(&w); PyBuffer_Release(&out);
        PyErr_SetString(PyExc_ValueError, "depthwise: buffers do not match the geometry");
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    depthwise_loop((const int8_t *)x.buf, (const int32_t *)w.buf, (int32_t *)out.buf, &g, zero, c0, c1);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&x); PyBuffer_Release(&w); PyBuffer_Release(&out);
    Py_RETURN_NONE;
}

/* --- two-input lookup tables ------------------------------------------------------------------ */
static PyObject *pair_lut(PyObject *self, PyObject *args) {
    Py_buffer a, b, lut, out;
    if (!PyArg_ParseTuple(args, "y*y*y*w*", &a, &b, &lut, &out))
        return NULL;
    const Py_ssize_t n = out.len;
    if (a.len != n || b.len != n || lut.len != 65536) {
        PyBuffer_Release(&a); PyBuffer_Release(&b); PyBuffer_Release(&lut); PyBuffer_Release(&out);
        PyErr_SetString(PyExc_ValueError, "pair_lut: operands differ in size or the table is not 65536 bytes");
        return NULL;
    }
    const uint8_t *pa = (const uint8_t *)a.buf, *pb = (const uint8_t *)b.buf;
    const int8_t *t = (const int8_t *)lut.buf;
    int8_t *y = (int8_t *)out.buf;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++)
        y[i] = t[((unsigned)pa[i] << 8) | pb[i]];
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&a); PyBuffer_Release(&b); PyBuffer_Release(&lut); PyBuffer_Release(&out);
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"im2col", im2col, METH_VARARGS, "Patch rows of stored int8 activations, as uint8 (stored + 128)."},
    {"requant", requant, METH_VARARGS, "Requantize int32 accumulators to stored int8."},
    {"depthwise", depthwise, METH_VARARGS, "Exact int32 sums of a depthwise convolution."},
    {"pair_lut", pair_lut, METH_VARARGS, "Apply a 65536-entry table to two int8 operands."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_native", "Native loops of the emulated NPU's kernels.",
                                    -1, methods};

PyMODINIT_FUNC PyInit__native(void) { return PyModule_Create(&module); }
