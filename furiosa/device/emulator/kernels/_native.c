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
 *   depthwise    exact int32 sums of (x - zero) * w over each window of a depthwise conv,
 *                requantized as above;
 *   arith        add / sub / mul of two quantized operands with a clamp, computed as the pair
 *                tables compute it (used only where it equals the table on all 65,536 pairs);
 *   pair_lut     out[i] = lut[(uint8(a[i]) << 8) | uint8(b[i])] (two-input lookup tables);
 *   quantize     float32 -> stored int8 with one scale (QuantizeLinear, as furiosa.common.qmath);
 *   product      int8 weights times a patch matrix with AVX-512 VNNI, requantized as above
 *                (only on CPUs that have it: vnni() says whether).
 *
 * Each function but arith's check takes a number of parts: the work is cut into contiguous
 * spans of channels, rows or values, run at once on the calling thread and up to parts - 1 of
 * the extension's own worker threads (see run_parts), each span computed by the same loop.
 *
 * Floating-point contraction is disabled at build time (-ffp-contract=off): the product and
 * the addition of the zero point are rounded separately, as numpy rounds them. Rounding half
 * to even uses the 1.5 * 2**52 trick (1.5 * 2**23 in float32), exact on the clamped values in
 * the default rounding mode, and vectorizes where rint would not.
 * Every buffer's length is checked against the dimensions before any access.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
/* x86-64-v4: AVX-512 F, BW, DQ, VL (the conversions and narrowing stores the loops need in
 * 512-bit lanes); x86-64-v3: AVX2 and FMA (contraction stays off, see above) */
#define WIDE __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define WIDE
#endif


static const double ROUND_MAGIC = 6755399441055744.0; /* 1.5 * 2**52 */

static inline int8_t requant_one(double acc, double mult, double zp, double lo, double hi, int offset) {
    double r = acc * mult;
    r += zp;
    r = r < lo ? lo : r;
    r = r > hi ? hi : r;
    /* |r| <= 1024: r + 1.5 * 2**52 is rounded half to even to an integer (default rounding mode),
     * which its low 32 bits hold in two's complement; read from the bits, it needs no conversion
     * instruction (and vectorizes to a narrowing move) */
    r += ROUND_MAGIC;
    int64_t bits;
    memcpy(&bits, &r, sizeof bits);
    return (int8_t)((int32_t)bits - offset);
}

/* --- parts of one call on several cores -------------------------------------------------------
 * A call run on `parts` threads is cut into parts * CHUNKS chunks, which the calling thread and
 * worker threads of its own claim one at a time until none is left: a thread that is slow or
 * descheduled (on a virtual machine, a virtual CPU the host is not running) takes fewer chunks
 * instead of holding the call up with a fixed half. Handing work over through the interpreter
 * (a Python helper thread) costs tens of microseconds on virtual machines, where waking a
 * sleeping thread is slow; these workers wait for their next call by spinning for a short while
 * (SPIN_NS, yielding the core now and then) before they sleep, so that within an inference,
 * where native calls follow each other within microseconds, they join at once; a worker that has
 * not joined by the time the chunks are all claimed is left out of that call. Every chunk
 * computes its own elements with the same function as a whole call: results do not depend on
 * the cut. One caller at a time uses the workers; another one meanwhile runs its call whole. */
#define MAX_WORKERS 15
/* How long an idle worker keeps polling before it sleeps: 5 ms, past the gaps between native
 * calls within an inference (float operators, onnxruntime's products) and between inferences
 * run one after the other. With 0.2 ms, a worker fell asleep in those gaps and the next calls
 * ran at about single-threaded speed while its CPU woke up again (MobileNet-v2 measured by
 * bench_mobilenet_v2.py, a pause and one call before the timed one: 4.2-5.0 -> 3.8-4.0 ms). */
#define SPIN_NS 5000000LL
/* How long they poll once onnxruntime's pool computes the products on every core (short_polls):
 * a worker polling through a product slows it down (QDQ ResNet-50 without the VNNI kernels: 22 ->
 * 34 ms with 5 ms polls), one asleep after each product costs a wake-up at the next native call
 * (MobileNet-v2, whose products take 30-150 us: 4.3 -> 5.1 ms with no polling at all). */
#define SHORT_SPIN_NS 200000LL
#define CHUNKS 4         /* chunks per thread of a call */

typedef void (*PartFn)(void *arg, int part, int parts);

/* One call's chunks: whoever is free claims the next one. */
typedef struct {
    PartFn fn;
    void *arg;
    int chunks;
    atomic_int next;
    int cpu; /* the caller's CPU when it posted the job, or -1 */
} Job;

typedef struct {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    atomic_uint posted;   /* jobs handed to this worker */
    atomic_uint taken;    /* jobs joined by the worker, or given up by the caller when it was late */
    atomic_uint finished; /* jobs the worker has left */
    atomic_int sleeping;
    Job *job;
    char pad[64]; /* keeps two workers' counters off one cache line */
} Worker;

static Worker workers[MAX_WORKERS];
static int started;        /* workers running (changed only by the caller holding `busy`) */
static atomic_flag busy = ATOMIC_FLAG_INIT;
static atomic_int short_polls; /* set by short_polls(): workers poll SHORT_SPIN_NS from then on */

static inline void relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void run_chunks(Job *job) {
    for (int c; (c = atomic_fetch_add_explicit(&job->next, 1, memory_order_relaxed)) < job->chunks;)
        job->fn(job->arg, c, job->chunks);
}

/* Moves the calling thread off `cpu` (to another CPU it may run on), leaving its allowed set as
 * it was. A worker sharing its caller's CPU takes nothing off it: they take turns. The kernel
 * places threads this way after an idle stretch (measured on the CI's virtual machine, whose
 * scheduler packs lightly loaded threads onto few CPUs: both threads on one CPU for whole
 * inferences, which then took single-threaded time), and a polling worker is never woken, so
 * nothing moves it back. */
static void leave_cpu(int cpu) {
#ifdef __linux__
    cpu_set_t allowed, others;
    if (sched_getaffinity(0, sizeof allowed, &allowed) != 0 || CPU_COUNT(&allowed) < 2 || !CPU_ISSET(cpu, &allowed))
        return;
    others = allowed;
    CPU_CLR(cpu, &others);
    if (sched_setaffinity(0, sizeof others, &others) == 0)
        sched_setaffinity(0, sizeof allowed, &allowed);
#else
    (void)cpu;
#endif
}

static int current_cpu(void) {
#ifdef __linux__
    return sched_getcpu();
#else
    return -1;
#endif
}

static void *worker_main(void *self) {
    Worker *w = (Worker *)self;
    unsigned seen = 0;
    for (;;) {
        long long since = now_ns();
        unsigned k = 0;
        while (atomic_load_explicit(&w->posted, memory_order_acquire) == seen) {
            relax();
            if (++k % 256 == 0) {
                if (now_ns() - since > (atomic_load_explicit(&short_polls, memory_order_relaxed) ? SHORT_SPIN_NS
                                                                                               : SPIN_NS))
                    break;
                sched_yield(); /* lets another runnable thread (onnxruntime's pool) have this core */
            }
        }
        if (atomic_load(&w->posted) == seen) {
            pthread_mutex_lock(&w->lock);
            atomic_store(&w->sleeping, 1);
            while (atomic_load(&w->posted) == seen)
                pthread_cond_wait(&w->wake, &w->lock);
            atomic_store(&w->sleeping, 0);
            pthread_mutex_unlock(&w->lock);
        }
        unsigned expected = seen++;
        /* the caller gives the job up once it has claimed every chunk itself (this worker was
         * asleep or descheduled): whoever claims the ticket first decides */
        if (atomic_compare_exchange_strong(&w->taken, &expected, seen)) {
            if (w->job->cpu >= 0 && current_cpu() == w->job->cpu)
                leave_cpu(w->job->cpu);
            run_chunks(w->job);
            atomic_store_explicit(&w->finished, seen, memory_order_release);
        }
    }
    return NULL;
}

static void reset_worker(Worker *w) {
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->wake, NULL);
    atomic_store(&w->posted, 0);
    atomic_store(&w->taken, 0);
    atomic_store(&w->finished, 0);
    atomic_store(&w->sleeping, 0);
}

/* A forked child has only the thread that forked: its workers are started again when needed. */
static void after_fork_in_child(void) {
    for (int i = 0; i < started; i++)
        reset_worker(&workers[i]);
    started = 0;
    atomic_flag_clear(&busy);
}

/* Run fn(arg, c, chunks) for c in [0, chunks), chunks = parts * CHUNKS, on up to `parts`
 * threads; returns when all have finished. When no worker is available (none could be started,
 * or another caller has them) the call runs whole: fn(arg, 0, 1). Called without the
 * interpreter lock. */
static void run_parts(PartFn fn, void *arg, int parts) {
    if (parts > MAX_WORKERS + 1)
        parts = MAX_WORKERS + 1;
    if (parts <= 1 || atomic_flag_test_and_set(&busy)) {
        fn(arg, 0, 1);
        return;
    }
    while (started < parts - 1) {
        Worker *w = &workers[started];
        reset_worker(w);
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        int failed = pthread_create(&w->thread, &attr, worker_main, w);
        pthread_attr_destroy(&attr);
        if (failed)
            break;
        started++;
    }
    if (parts > started + 1)
        parts = started + 1;
    Job job = {fn, arg, parts * CHUNKS, 0, current_cpu()};
    unsigned tickets[MAX_WORKERS];
    for (int i = 0; i < parts - 1; i++) {
        Worker *w = &workers[i];
        w->job = &job;
        tickets[i] = atomic_fetch_add(&w->posted, 1) + 1;
        if (atomic_load(&w->sleeping)) {
            pthread_mutex_lock(&w->lock);
            pthread_cond_signal(&w->wake);
            pthread_mutex_unlock(&w->lock);
        }
    }
    run_chunks(&job);
    for (int i = 0; i < parts - 1; i++) {
        unsigned expected = tickets[i] - 1;
        if (atomic_compare_exchange_strong(&workers[i].taken, &expected, tickets[i]))
            continue; /* not started: every chunk is claimed already, nothing to wait for */
        unsigned k = 0;
        while (atomic_load_explicit(&workers[i].finished, memory_order_acquire) != tickets[i])
            if (++k % 1024 == 0)
                sched_yield();
            else
                relax();
    }
    atomic_flag_clear(&busy);
}

/* [*start, *end) of `total` items for part `part` of `parts`, in contiguous even spans. */
static void span_of(Py_ssize_t total, int part, int parts, Py_ssize_t *start, Py_ssize_t *end) {
    const Py_ssize_t step = (total + parts - 1) / parts;
    *start = part * step < total ? part * step : total;
    *end = *start + step < total ? *start + step : total;
}

/* The same in float32, twice as many values per vector: r = float(t) * m + zp with each step
 * rounded to float32, clamped, rounded half to even by the 1.5 * 2**23 trick (exact for |r| <=
 * 1024), the integer read from the low mantissa bits. It is used only for channels where
 * requant_f32_exact has proven it equal to requant_one on every accumulator the channel can
 * hold. */
static const float ROUND_MAGIC_32 = 12582912.0f; /* 1.5 * 2**23 */

static inline int8_t requant_one_f32(int32_t t, float m, float zp, float lo, float hi, int offset) {
    float r = (float)t * m;
    r += zp;
    r = r < lo ? lo : r;
    r = r > hi ? hi : r;
    r += ROUND_MAGIC_32;
    int32_t bits;
    memcpy(&bits, &r, sizeof bits);
    return (int8_t)((bits & 0x7fffff) - 0x400000 - offset);
}

/* Whether requant_one_f32 gives what requant_one gives for every integer t in [-bound, bound].
 *
 * With v = t * m + zp (exact), both results are v clamped to [lo, hi], then rounded: values below
 * lo give lo and values above hi give hi either way, so the only boundaries where the result
 * changes are the half-integers h in [lo + 1/2, hi - 1/2]. Each form computes v with an error:
 * float32 rounds the product (|p| = |v - zp|) and the sum (|v|) to 24 bits, so near h its error
 * is below 2**-24 * (|h - zp| + |h| + 1); float64's is 2**29 times smaller. Where v is farther
 * than twice that from h, both lie on the same side of h; where v is far from every boundary
 * (also beyond 2048, where float32's error stays relative), both give the same integer. So only
 * the integers t with |t * m + zp - h| within that distance can differ: none or one per h for
 * ordinary multipliers, all computed both ways here. Accumulators of 2**24 or more (not exact in
 * float32) and windows of more than 64 candidates (a tiny m) are left to float64. */
static int requant_f32_exact(double m, double zp, double lo, double hi, int offset, int64_t bound) {
    if (bound >= (1 << 24) || !(m >= 0.0) || zp < -1024 || zp > 1024 || (double)(float)m != m)
        return 0;
    const float mf = (float)m, zf = (float)zp, lof = (float)lo, hif = (float)hi;
    if (m == 0.0)
        return requant_one(0.0, m, zp, lo, hi, offset) == requant_one_f32(0, mf, zf, lof, hif, offset);
    const double inv = 1.0 / m; /* candidates are found within a margin: a rounded reciprocal is enough */
    for (double h = lo + 0.5; h <= hi - 0.5; h += 1.0) {
        const double delta = (fabs(h - zp) + fabs(h) + 1.0) / 8388608.0; /* 2**-23 * (...) */
        const double centre = (h - zp) * inv, half = delta * inv;
        if (half > 32)
            return 0;
        const double c0 = centre - half, c1 = centre + half;
        if (c1 < -(double)bound || c0 > (double)bound)
            continue;
        int64_t t0 = (int64_t)c0, t1 = (int64_t)c1; /* truncated, then to floor(c0) and ceil(c1) */
        t0 -= (double)t0 > c0;
        t1 += (double)t1 < c1;
        t0 = t0 < -bound ? -bound : t0;
        t1 = t1 > bound ? bound : t1;
        for (int64_t t = t0; t <= t1; t++)
            if (requant_one((double)t, m, zp, lo, hi, offset) !=
                requant_one_f32((int32_t)t, mf, zf, lof, hif, offset))
                return 0;
    }
    return 1;
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

WIDE static void flip_copy(uint8_t *restrict dst, const uint8_t *restrict src, Py_ssize_t count, uint8_t flip) {
    for (Py_ssize_t i = 0; i < count; i++) dst[i] = src[i] ^ flip;
}

static void strided_copy(uint8_t *restrict dst, const uint8_t *restrict src, Py_ssize_t count, Py_ssize_t stride,
                         uint8_t flip) {
    for (Py_ssize_t i = 0; i < count; i++) dst[i] = src[i * stride] ^ flip;
}

/* Stride 2, the common case, with the stride known to the compiler: a vectorized deinterleave
 * (a runtime stride leaves the loop scalar). */
WIDE static void stride2_copy(uint8_t *restrict dst, const uint8_t *restrict src, Py_ssize_t count, uint8_t flip) {
    for (Py_ssize_t i = 0; i < count; i++) dst[i] = src[2 * i] ^ flip;
}

/* Rows [r0, r1) of the patch matrix (C * kh * kw, oh * ow), row (c * kh + ky) * kw + kx being
 * the input plane of channel c seen through tap (ky, kx), bytes XORed with `flip`, `pad` where
 * the tap falls outside the input. */
static void im2col_loop(const int8_t *x, uint8_t *out, const Geometry *g, Py_ssize_t r0, Py_ssize_t r1,
                        uint8_t flip, uint8_t pad) {
    const Py_ssize_t pixels = g->oh * g->ow;
    for (Py_ssize_t r = r0; r < r1; r++) {
        const Py_ssize_t ch = r / (g->kh * g->kw), ky = (r / g->kw) % g->kh, kx = r % g->kw;
        const uint8_t *plane = (const uint8_t *)x + ch * g->h * g->w;
        uint8_t *row = out + r * pixels;
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
            if (g->sw == 1 && flip == 0)
                memcpy(seg + first, line + shift + first, (size_t)(last - first));
            else if (g->sw == 1)
                flip_copy(seg + first, line + shift + first, last - first, flip);
            else if (g->sw == 2)
                stride2_copy(seg + first, line + first * 2 + shift, last - first, flip);
            else
                strided_copy(seg + first, line + first * g->sw + shift, last - first, g->sw, flip);
            memset(seg + last, pad, (size_t)(g->ow - last));
        }
    }
}

static int bad_geometry(const Geometry *g) {
    return g->c <= 0 || g->h <= 0 || g->w <= 0 || g->kh <= 0 || g->kw <= 0 || g->sh <= 0 || g->sw <= 0 ||
           g->dh <= 0 || g->dw <= 0 || g->pt < 0 || g->pl < 0 || g->oh <= 0 || g->ow <= 0;
}

typedef struct {
    const int8_t *x;
    uint8_t *out;
    const Geometry *g;
    Py_ssize_t c0, c1;
    uint8_t flip, pad;
} Im2colCall;

static void im2col_part(void *arg, int part, int parts) {
    const Im2colCall *a = (const Im2colCall *)arg;
    const Py_ssize_t taps = a->g->kh * a->g->kw;
    Py_ssize_t start, end; /* cut by rows, so that a few channels still make even parts */
    span_of((a->c1 - a->c0) * taps, part, parts, &start, &end);
    im2col_loop(a->x, a->out, a->g, a->c0 * taps + start, a->c0 * taps + end, a->flip, a->pad);
}

/* im2col(x, out, c, h, w, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow, c0, c1, flip, pad, parts) */
static PyObject *im2col(PyObject *self, PyObject *args) {
    Py_buffer x, out;
    Geometry g;
    Py_ssize_t c0, c1;
    int flip, pad, parts;
    if (!PyArg_ParseTuple(args, "y*w*nnnnnnnnnnnnnnniii", &x, &out, &g.c, &g.h, &g.w, &g.kh, &g.kw, &g.sh, &g.sw,
                          &g.dh, &g.dw, &g.pt, &g.pl, &g.oh, &g.ow, &c0, &c1, &flip, &pad, &parts))
        return NULL;
    if (bad_geometry(&g) || c0 < 0 || c1 > g.c || c1 < c0 || x.len < g.c * g.h * g.w ||
        out.len < g.c * g.kh * g.kw * g.oh * g.ow) {
        PyBuffer_Release(&x);
        PyBuffer_Release(&out);
        PyErr_SetString(PyExc_ValueError, "im2col: buffers do not match the geometry");
        return NULL;
    }
    Im2colCall call = {(const int8_t *)x.buf, (uint8_t *)out.buf, &g, c0, c1, (uint8_t)flip, (uint8_t)pad};
    Py_BEGIN_ALLOW_THREADS
    run_parts(im2col_part, &call, parts);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&x);
    PyBuffer_Release(&out);
    Py_RETURN_NONE;
}

/* --- requantization ----------------------------------------------------------------------- */
typedef struct {
    double zp, lo, hi;
    int offset;
    const uint8_t *f32; /* per channel (of the call): 1 where the float32 form is proven exact */
} Output;

/* acc (rows, n) row-major -> out (rows, n): channel = column. */
/* The loops below take their bounds and parameters as locals and restrict-qualified pointers, so
 * that the compiler knows the int8 stores alias nothing it reads and vectorizes them. */
WIDE static void requant_run_f64(const int32_t *restrict a, int8_t *restrict y, Py_ssize_t count, double m,
                                 int32_t b, Output o) {
    /* a[i] + b cannot overflow: the kernels check |acc| + |bias| < 2**31 when they are prepared */
    const double zp = o.zp, lo = o.lo, hi = o.hi;
    const int offset = o.offset;
    for (Py_ssize_t i = 0; i < count; i++)
        y[i] = requant_one((double)(a[i] + b), m, zp, lo, hi, offset);
}

WIDE static void requant_run_f32(const int32_t *restrict a, int8_t *restrict y, Py_ssize_t count, float m,
                                 int32_t b, Output o) {
    const float zp = (float)o.zp, lo = (float)o.lo, hi = (float)o.hi;
    const int offset = o.offset;
    for (Py_ssize_t i = 0; i < count; i++)
        y[i] = requant_one_f32(a[i] + b, m, zp, lo, hi, offset);
}

/* One channel's run of values: in float32 where that is proven exact for the channel (`exact`). */
static void requant_run(const int32_t *a, int8_t *y, Py_ssize_t count, double m, int32_t b, Output o, int exact) {
    if (exact)
        requant_run_f32(a, y, count, (float)m, b, o);
    else
        requant_run_f64(a, y, count, m, b, o);
}

WIDE static void requant_rows_f32(const int32_t *restrict acc, const int32_t *restrict bias,
                                  const float *restrict mult, int8_t *restrict out, Py_ssize_t rows, Py_ssize_t n,
                                  Output o) {
    const float zp = (float)o.zp, lo = (float)o.lo, hi = (float)o.hi;
    const int offset = o.offset;
    for (Py_ssize_t r = 0; r < rows; r++) {
        const int32_t *restrict a = acc + r * n;
        int8_t *restrict y = out + r * n;
        for (Py_ssize_t j = 0; j < n; j++)
            y[j] = requant_one_f32(a[j] + bias[j], mult[j], zp, lo, hi, offset);
    }
}

WIDE static void requant_rows_loop(const int32_t *restrict acc, const int32_t *restrict bias,
                                   const double *restrict mult, int8_t *restrict out, Py_ssize_t rows, Py_ssize_t n,
                                   Output o) {
    const double zp = o.zp, lo = o.lo, hi = o.hi;
    const int offset = o.offset;
    for (Py_ssize_t r = 0; r < rows; r++) {
        const int32_t *restrict a = acc + r * n;
        int8_t *restrict y = out + r * n;
        for (Py_ssize_t j = 0; j < n; j++)
            y[j] = requant_one((double)(a[j] + bias[j]), mult[j], zp, lo, hi, offset);
    }
}

static void requant_planes_loop(const int32_t *acc, const int32_t *bias, const double *mult, int8_t *out,
                                Py_ssize_t n, Py_ssize_t inner, Output o) {
    for (Py_ssize_t j = 0; j < n; j++)
        requant_run(acc + j * inner, out + j * inner, inner, mult[j], bias[j], o, o.f32[j]);
}

typedef struct {
    const int32_t *acc, *bias;
    const double *mult;
    const float *mult32;
    int8_t *out;
    Py_ssize_t rows, n;
    int mode, all_f32;
    Output o;
} RequantCall;

static void requant_part(void *arg, int part, int parts) {
    const RequantCall *a = (const RequantCall *)arg;
    Py_ssize_t start, end;
    if (a->mode == 0) { /* a span of rows: float32 if every channel (column) allows it */
        span_of(a->rows, part, parts, &start, &end);
        if (a->all_f32)
            requant_rows_f32(a->acc + start * a->n, a->bias, a->mult32, a->out + start * a->n, end - start, a->n,
                             a->o);
        else
            requant_rows_loop(a->acc + start * a->n, a->bias, a->mult, a->out + start * a->n, end - start, a->n,
                              a->o);
    } else { /* a span of planes */
        span_of(a->n, part, parts, &start, &end);
        Output o = a->o;
        o.f32 += start;
        requant_planes_loop(a->acc + start * a->rows, a->bias + start, a->mult + start, a->out + start * a->rows,
                            end - start, a->rows, o);
    }
}

/* requant(acc, bias, mult, mult32, exact, out, rows, n, mode, zp, lo, hi, offset, parts)
 * mode 0: acc (rows, n), channel = column; mode 1: acc (n, rows), channel = plane. mult32 holds
 * the multipliers as float32, exact one byte per channel: 1 where requant_f32_exact holds. */
static PyObject *requant(PyObject *self, PyObject *args) {
    Py_buffer acc, bias, mult, mult32, exact, out;
    Py_ssize_t rows, n;
    int mode, offset, parts;
    Output o;
    if (!PyArg_ParseTuple(args, "y*y*y*y*y*w*nniddd" "ii", &acc, &bias, &mult, &mult32, &exact, &out, &rows, &n,
                          &mode, &o.zp, &o.lo, &o.hi, &offset, &parts))
        return NULL;
    o.offset = offset;
    o.f32 = (const uint8_t *)exact.buf;
    const Py_ssize_t total = rows * n;
    if (rows < 0 || n <= 0 || mode < 0 || mode > 1 || acc.len < total * 4 || bias.len < n * 4 ||
        mult.len < n * 8 || mult32.len < n * 4 || exact.len < n || out.len < total || !(o.lo <= o.hi) ||
        o.lo < -1024 || o.hi > 1024) {
        PyBuffer_Release(&acc); PyBuffer_Release(&bias); PyBuffer_Release(&mult); PyBuffer_Release(&mult32);
        PyBuffer_Release(&exact); PyBuffer_Release(&out);
        PyErr_SetString(PyExc_ValueError, "requant: buffers do not match the dimensions");
        return NULL;
    }
    int all_f32 = 1;
    for (Py_ssize_t j = 0; j < n; j++)
        all_f32 &= o.f32[j] != 0;
    RequantCall call = {(const int32_t *)acc.buf, (const int32_t *)bias.buf, (const double *)mult.buf,
                        (const float *)mult32.buf, (int8_t *)out.buf, rows, n, mode, all_f32, o};
    Py_BEGIN_ALLOW_THREADS
    run_parts(requant_part, &call, parts);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&acc); PyBuffer_Release(&bias); PyBuffer_Release(&mult); PyBuffer_Release(&mult32);
    PyBuffer_Release(&exact); PyBuffer_Release(&out);
    Py_RETURN_NONE;
}

typedef struct {
    const double *m;
    char *flags;
    Py_ssize_t n;
    double zp, lo, hi;
    int offset;
    int64_t bound;
} ExactCall;

static void requant_exact_part(void *arg, int part, int parts) {
    const ExactCall *a = (const ExactCall *)arg;
    Py_ssize_t start, end;
    span_of(a->n, part, parts, &start, &end);
    for (Py_ssize_t j = start; j < end; j++)
        a->flags[j] = (char)requant_f32_exact(a->m[j], a->zp, a->lo, a->hi, a->offset, a->bound);
}

/* requant_exact(mult, zp, lo, hi, offset, bound, parts) -> bytes: per channel, 1 where
 * requant_f32_exact holds */
static PyObject *requant_exact(PyObject *self, PyObject *args) {
    Py_buffer mult;
    double zp, lo, hi;
    int offset, parts;
    long long bound;
    if (!PyArg_ParseTuple(args, "y*dddiLi", &mult, &zp, &lo, &hi, &offset, &bound, &parts))
        return NULL;
    const Py_ssize_t n = mult.len / 8;
    PyObject *flags = PyBytes_FromStringAndSize(NULL, n);
    if (flags == NULL || !(lo <= hi) || lo < -1024 || hi > 1024 || bound < 0) {
        PyBuffer_Release(&mult);
        if (flags != NULL) {
            Py_DECREF(flags);
            PyErr_SetString(PyExc_ValueError, "requant_exact: parameters out of range");
        }
        return NULL;
    }
    ExactCall call = {(const double *)mult.buf, PyBytes_AS_STRING(flags), n, zp, lo, hi, offset, (int64_t)bound};
    Py_BEGIN_ALLOW_THREADS
    run_parts(requant_exact_part, &call, parts);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&mult);
    return flags;
}

/* --- depthwise convolution ------------------------------------------------------------------ */
/* Per channel, the input minus its zero point is laid out as sh * sw int32 *phase planes*: phase
 * (rr, rc) holds the padded input's rows rr, rr + sh, ... and columns rc, rc + sw, ..., with
 * zeros where the padding is (so padding contributes nothing and no tap needs a bounds check).
 * Output (oy, ox) of tap (ky, kx) reads padded row oy * sh + ky * dh and column ox * sw + kx * dw,
 * that is row oy + (ky * dh) / sh and column ox + (kx * dw) / sw of one phase plane: with an
 * accumulator as wide as a phase row, every tap is one long loop over oh * width values (the
 * columns beyond ow are computed and dropped). The exact int32 sums are then requantized
 * straight to int8. With unit strides the single phase plane is the padded input. */
/* Loops over a plane run to a whole number of the widest vectors (16 int32), into scratch with
 * room for it: the values past the plane's end are computed from zeros or from other rows, and
 * dropped. The loops' scalar tails would otherwise cost as much as their vector part on small
 * planes (a 14 x 14 plane is 13 vectors and 14 scalar steps). */
#define VECTOR 16
static inline Py_ssize_t whole_vectors(Py_ssize_t count) { return (count + VECTOR - 1) / VECTOR * VECTOR; }

typedef struct {
    Py_ssize_t rows, width, size; /* of one phase plane; size includes the slack read past its end */
    int32_t *phases, *acc;
    int32_t *row;  /* one padded input row, sw * width values */
    int32_t *flat; /* the channel's input minus its zero point, h * w values */
    int8_t *wide;  /* requantized rows before they are packed */
} Scratch;

/* The channel's input minus its zero point, converted in one long loop; rows are then copied
 * into place. Converting row by row leaves the tail of each row to scalar code, which costs most
 * on rows of a few vectors; rows shorter than one vector are faster converted in place (a copy
 * per row costs more than they hold), and so are long rows (one pass less). */
#define FLAT_MIN 16
#define FLAT_MAX 64
WIDE static void convert_plane(const int8_t *restrict src, Py_ssize_t count, int zero, int32_t *restrict flat) {
    for (Py_ssize_t i = 0; i < count; i++) flat[i] = (int32_t)src[i] - zero;
}

WIDE static void fill_rows_direct(const int8_t *src, const Geometry *g, int zero, Scratch *t) {
    /* unit column stride: one memset of each plane, then the data of each row in place */
    const Py_ssize_t sh = g->sh, width = t->width;
    const Py_ssize_t j0 = g->pl < width ? g->pl : width;
    const Py_ssize_t j1 = g->pl + g->w < width ? g->pl + g->w : width;
    for (Py_ssize_t rr = 0; rr < sh; rr++) {
        int32_t *phase = t->phases + rr * t->size;
        memset(phase, 0, sizeof(int32_t) * (size_t)t->size);
        for (Py_ssize_t r = 0; r < t->rows; r++) {
            const Py_ssize_t iy = r * sh + rr - g->pt;
            if (iy < 0 || iy >= g->h) continue;
            const int8_t *restrict line = src + iy * g->w;
            int32_t *restrict dst = phase + r * width;
            for (Py_ssize_t j = j0; j < j1; j++) dst[j] = (int32_t)line[j - g->pl] - zero;
        }
    }
}

/* Unit column stride, input rows of at most one vector with their left padding: the plane
 * converted in one pass, then each row moved as one whole vector; what the move writes past the
 * row (the padding, the next row's start) is set to zero again before the next row is moved. */
WIDE static void fill_rows_short(const int8_t *src, const Geometry *g, int zero, Scratch *t) {
    convert_plane(src, g->h * g->w, zero, t->flat);
    const Py_ssize_t sh = g->sh, width = t->width, w = g->w;
    for (Py_ssize_t rr = 0; rr < sh; rr++) {
        int32_t *phase = t->phases + rr * t->size;
        memset(phase, 0, sizeof(int32_t) * (size_t)t->size);
        for (Py_ssize_t r = 0; r < t->rows; r++) {
            const Py_ssize_t iy = r * sh + rr - g->pt;
            if (iy < 0 || iy >= g->h) continue;
            int32_t *dst = phase + r * width + g->pl;
            memcpy(dst, t->flat + iy * w, sizeof(int32_t) * VECTOR);
            for (Py_ssize_t k = w; k < VECTOR; k++) dst[k] = 0;
        }
    }
}

static void fill_rows(const int32_t *flat, const Geometry *g, Scratch *t) {
    /* unit column stride: each row of a phase plane is zeros where the padding is and a copy of
     * an input row elsewhere */
    const Py_ssize_t sh = g->sh, width = t->width;
    const Py_ssize_t j0 = g->pl < width ? g->pl : width;
    const Py_ssize_t j1 = g->pl + g->w < width ? g->pl + g->w : width;
    for (Py_ssize_t rr = 0; rr < sh; rr++) {
        int32_t *phase = t->phases + rr * t->size;
        for (Py_ssize_t r = 0; r < t->rows; r++) {
            const Py_ssize_t iy = r * sh + rr - g->pt;
            int32_t *dst = phase + r * width;
            if (iy < 0 || iy >= g->h || j0 >= j1) {
                memset(dst, 0, sizeof(int32_t) * (size_t)width);
                continue;
            }
            memset(dst, 0, sizeof(int32_t) * (size_t)j0);
            memcpy(dst + j0, flat + iy * g->w + (j0 - g->pl), sizeof(int32_t) * (size_t)(j1 - j0));
            memset(dst + j1, 0, sizeof(int32_t) * (size_t)(width - j1));
        }
        /* the slack past the plane, read (and dropped) by the last tap's long loop */
        memset(phase + t->rows * width, 0, sizeof(int32_t) * (size_t)(t->size - t->rows * width));
    }
}

/* Column strides: one padded input row minus the zero point (zeros where the padding is) into
 * `row`, as wide as the phase planes' columns need; then each column phase takes every sw-th
 * value of it. Both loops run over contiguous memory (the split in two is a vectorizable
 * deinterleave), where reading every sw-th input byte straight into a phase would not vectorize. */
WIDE static void fill_phases(const int8_t *src, const Geometry *g, int zero, Scratch *t) {
    const int use_flat = g->w >= FLAT_MIN && g->w <= FLAT_MAX;
    const int32_t *flat = t->flat;
    if (use_flat)
        convert_plane(src, g->h * g->w, zero, t->flat);
    if (g->sw == 1) {
        if (use_flat)
            fill_rows(flat, g, t);
        else if (g->w <= VECTOR && g->pl + g->w <= t->width)
            fill_rows_short(src, g, zero, t);
        else
            fill_rows_direct(src, g, zero, t);
        return;
    }
    const Py_ssize_t sh = g->sh, sw = g->sw, width = t->width, span = width * sw;
    int32_t *restrict row = t->row;
    /* input columns [a, b) of the padded row hold data; the rest is padding */
    const Py_ssize_t a = g->pl < span ? g->pl : span;
    const Py_ssize_t b = g->pl + g->w < span ? g->pl + g->w : span;
    for (Py_ssize_t rr = 0; rr < sh; rr++)
        for (Py_ssize_t r = 0; r < t->rows; r++) {
            const Py_ssize_t iy = r * sh + rr - g->pt;
            int32_t *restrict d0 = t->phases + (rr * sw) * t->size + r * width;
            if (iy < 0 || iy >= g->h) {
                for (Py_ssize_t rc = 0; rc < sw; rc++) memset(d0 + rc * t->size, 0, sizeof(int32_t) * (size_t)width);
                continue;
            }
            if (use_flat) {
                memset(row, 0, sizeof(int32_t) * (size_t)a);
                if (a < b)
                    memcpy(row + a, flat + iy * g->w + (a - g->pl), sizeof(int32_t) * (size_t)(b - a));
                memset(row + b, 0, sizeof(int32_t) * (size_t)(span - b));
            } else {
                const int8_t *restrict line = src + iy * g->w;
                for (Py_ssize_t j = 0; j < a; j++) row[j] = 0;
                for (Py_ssize_t j = a; j < b; j++) row[j] = (int32_t)line[j - g->pl] - zero;
                for (Py_ssize_t j = b; j < span; j++) row[j] = 0;
            }
            if (sw == 2) {
                int32_t *restrict d1 = d0 + t->size;
                for (Py_ssize_t j = 0; j < width; j++) {
                    d0[j] = row[2 * j];
                    d1[j] = row[2 * j + 1];
                }
            } else {
                for (Py_ssize_t rc = 0; rc < sw; rc++) {
                    int32_t *restrict d = d0 + rc * t->size;
                    for (Py_ssize_t j = 0; j < width; j++) d[j] = row[j * sw + rc];
                }
            }
        }
    /* the slack row past each plane, read (and dropped) by the last tap's long loop */
    for (Py_ssize_t p = 0; p < sh * sw; p++)
        memset(t->phases + p * t->size + t->rows * width, 0, sizeof(int32_t) * (size_t)(t->size - t->rows * width));
}

WIDE static void add_taps(const int32_t *wc, const Geometry *g, Scratch *t) {
    const Py_ssize_t span = g->oh * t->width;
    memset(t->acc, 0, sizeof(int32_t) * (size_t)span);
    for (Py_ssize_t ky = 0; ky < g->kh; ky++)
        for (Py_ssize_t kx = 0; kx < g->kw; kx++) {
            const int32_t tap = wc[ky * g->kw + kx];
            if (tap == 0) continue;
            const Py_ssize_t dy = ky * g->dh, dx = kx * g->dw;
            const int32_t *restrict src = t->phases + ((dy % g->sh) * g->sw + dx % g->sw) * t->size +
                                          (dy / g->sh) * t->width + dx / g->sw;
            int32_t *restrict acc = t->acc;
            for (Py_ssize_t i = 0; i < span; i++) acc[i] += src[i] * tap;
        }
}

/* The nine source rows and weights of a 3 x 3 window, as restrict-qualified locals (so that the
 * loops over them vectorize), and the window's exact int32 sum at position i. */
static inline void taps9_sources(const Geometry *g, const Scratch *t, const int32_t *p[9]) {
    for (Py_ssize_t k = 0; k < 9; k++) {
        const Py_ssize_t dy = (k / 3) * g->dh, dx = (k % 3) * g->dw;
        p[k] = t->phases + ((dy % g->sh) * g->sw + dx % g->sw) * t->size + (dy / g->sh) * t->width + dx / g->sw;
    }
}
#define TAPS9_LOCALS(p, wc)                                                                                    \
    const int32_t *restrict s0 = p[0], *restrict s1 = p[1], *restrict s2 = p[2], *restrict s3 = p[3],        \
                  *restrict s4 = p[4], *restrict s5 = p[5], *restrict s6 = p[6], *restrict s7 = p[7],        \
                  *restrict s8 = p[8];                                                                       \
    const int32_t w0 = wc[0], w1 = wc[1], w2 = wc[2], w3 = wc[3], w4 = wc[4], w5 = wc[5], w6 = wc[6],       \
                  w7 = wc[7], w8 = wc[8]
#define TAPS9_SUM(i)                                                                                           \
    (s0[i] * w0 + s1[i] * w1 + s2[i] * w2 + s3[i] * w3 + s4[i] * w4 + s5[i] * w5 + s6[i] * w6 + s7[i] * w7 +  \
     s8[i] * w8)

/* Rows of ow bytes `stride` apart in `wide` packed into y (oh * ow). Narrow rows move as one
 * fixed 8- or 16-byte copy (a few instructions, where a memcpy call per row of a 7 x 7 plane
 * cost more than the row): each copy's overrun lands in the next row, which is copied after it,
 * and the last row is copied exactly, so nothing past the plane is written. `wide` has room for
 * the overrun reads (its size is a whole number of vectors plus one). */
static void pack_rows(int8_t *y, const int8_t *wide, Py_ssize_t oh, Py_ssize_t ow, Py_ssize_t stride) {
    Py_ssize_t oy = 0;
    if (2 * ow >= 8 && ow <= 8)
        for (; oy + 1 < oh; oy++)
            memcpy(y + oy * ow, wide + oy * stride, 8);
    else if (2 * ow >= 16 && ow <= 16)
        for (; oy + 1 < oh; oy++)
            memcpy(y + oy * ow, wide + oy * stride, 16);
    for (; oy < oh; oy++)
        memcpy(y + oy * ow, wide + oy * stride, (size_t)ow);
}

/* The common 3 x 3 window on small planes: the nine taps summed in registers in one pass. */
WIDE static void add_taps9(const int32_t *wc, const Geometry *g, Scratch *t) {
    const int32_t *p[9];
    taps9_sources(g, t, p);
    TAPS9_LOCALS(p, wc);
    int32_t *restrict acc = t->acc;
    const Py_ssize_t span = whole_vectors(g->oh * t->width);
    for (Py_ssize_t i = 0; i < span; i++)
        acc[i] = TAPS9_SUM(i);
}

/* The same on larger planes, requantized in the same pass (one pass instead of two; on planes
 * under FUSED_SPAN values it measured no faster than the two passes); rows of ow values `width`
 * apart go to `wide` (the columns beyond ow computed and dropped), then to y. */
WIDE static void taps9_requant(const int32_t *wc, const Geometry *g, Scratch *t, int8_t *y, double m, int32_t b,
                               Output o, int exact) {
    const int32_t *p[9];
    taps9_sources(g, t, p);
    TAPS9_LOCALS(p, wc);
    const double zp = o.zp, lo = o.lo, hi = o.hi;
    const float mf = (float)m, zpf = (float)o.zp, lof = (float)o.lo, hif = (float)o.hi;
    const int offset = o.offset;
    const Py_ssize_t width = t->width, oh = g->oh, ow = g->ow;
    int8_t *restrict dst = width == ow ? y : t->wide;
    const Py_ssize_t span = width == ow ? oh * ow : whole_vectors((oh - 1) * width + ow);
    /* a + b cannot overflow: |acc| + |bias| < 2**31 is checked when prepared */
    if (exact)
        for (Py_ssize_t i = 0; i < span; i++)
            dst[i] = requant_one_f32(TAPS9_SUM(i) + b, mf, zpf, lof, hif, offset);
    else
        for (Py_ssize_t i = 0; i < span; i++)
            dst[i] = requant_one((double)(TAPS9_SUM(i) + b), m, zp, lo, hi, offset);
    if (width != ow)
        pack_rows(y, t->wide, oh, ow, width);
}

/* Rows of ow values `stride` apart: requantized as one run over the whole (oh * stride) block
 * into `wide` (the columns beyond ow are computed and dropped), then copied row by row, so that
 * the vector loop is not cut into short rows. */
static void requant_plane(const int32_t *acc, Py_ssize_t stride, int8_t *y, int8_t *wide, const Geometry *g,
                          double m, int32_t b, Output o, int exact) {
    const Py_ssize_t oh = g->oh, ow = g->ow;
    if (stride == ow) {
        requant_run(acc, y, oh * ow, m, b, o, exact);
        return;
    }
    requant_run(acc, wide, whole_vectors((oh - 1) * stride + ow), m, b, o, exact);
    pack_rows(y, wide, oh, ow, stride);
}

#define FUSED_SPAN 512 /* output values of a plane (with its dropped columns) from which taps9_requant pays */

static void depthwise_loop(const int8_t *x, const int32_t *w, const int32_t *bias, const double *mult, int8_t *out,
                           const Geometry *g, int zero, Output o, Py_ssize_t c0, Py_ssize_t c1, Scratch *t) {
    /* o.f32, like bias and mult, starts at channel c0 */
    for (Py_ssize_t ch = c0; ch < c1; ch++) {
        int8_t *y = out + (ch - c0) * g->oh * g->ow;
        fill_phases(x + ch * g->h * g->w, g, zero, t);
        if (g->kh == 3 && g->kw == 3 && g->oh * t->width >= FUSED_SPAN) {
            taps9_requant(w + ch * 9, g, t, y, mult[ch - c0], bias[ch - c0], o, o.f32[ch - c0]);
        } else {
            if (g->kh == 3 && g->kw == 3)
                add_taps9(w + ch * 9, g, t);
            else
                add_taps(w + ch * g->kh * g->kw, g, t);
            requant_plane(t->acc, t->width, y, t->wide, g, mult[ch - c0], bias[ch - c0], o, o.f32[ch - c0]);
        }
    }
}

/* Scratch starts on a cache line: vector stores that straddle two lines cost twice, and malloc's
 * 16-byte alignment made the same depthwise call a third slower or not from one process to the
 * next (measured: 128 against 173 us, depending only on the environment's size). */
static void *scratch(size_t bytes, int zeroed) {
    void *p = NULL;
    bytes = (bytes + 63) / 64 * 64;
    if (posix_memalign(&p, 64, bytes ? bytes : 64) != 0)
        return NULL;
    if (zeroed)
        memset(p, 0, bytes);
    return p;
}

static void free_scratch(Scratch *t) {
    free(t->phases);
    free(t->acc);
    free(t->wide);
    free(t->row);
    free(t->flat);
}

typedef struct {
    const int8_t *x;
    const void *w; /* (C, kh * kw) taps: int32, or int8 for depthwise8_part */
    const int32_t *bias;
    const double *mult;
    int8_t *out;
    const Geometry *g;
    int zero;
    Output o;
    Py_ssize_t c0, c1;
    atomic_int failed; /* a part could not allocate its scratch */
} DepthwiseCall;

/* Channels of one part, with scratch of its own. */
static void depthwise_part(void *arg, int part, int parts) {
    DepthwiseCall *a = (DepthwiseCall *)arg;
    const Geometry *g = a->g;
    Py_ssize_t start, end;
    span_of(a->c1 - a->c0, part, parts, &start, &end);
    if (start >= end)
        return;
    /* a phase plane covers output rows 0..oh-1 shifted by up to (kh - 1) * dh / sh rows, and is
     * as wide as output columns shifted by up to (kw - 1) * dw / sw; the last tap's long loop
     * reads up to one row and one vector past the rows it uses, hence the slack */
    Scratch t = {0, 0, 0, NULL, NULL, NULL, NULL, NULL};
    t.width = g->ow + ((g->kw - 1) * g->dw) / g->sw;
    t.rows = g->oh + ((g->kh - 1) * g->dh) / g->sh;
    t.size = (t.rows + 1) * t.width + VECTOR;
    t.phases = scratch(sizeof(int32_t) * (size_t)(g->sh * g->sw * t.size), 0);
    const Py_ssize_t span = whole_vectors(g->oh * t.width);
    t.acc = scratch(sizeof(int32_t) * (size_t)span, 1); /* add_taps leaves the tail at zero */
    t.wide = scratch((size_t)span + VECTOR, 0); /* + pack_rows' overrun reads */
    t.row = scratch(sizeof(int32_t) * (size_t)(g->sw * t.width), 0);
    t.flat = scratch(sizeof(int32_t) * (size_t)(g->h * g->w + VECTOR), 1); /* + the last row's move */
    if (t.phases == NULL || t.acc == NULL || t.wide == NULL || t.row == NULL || t.flat == NULL)
        atomic_store(&a->failed, 1);
    else { /* bias, mult, the exact flags and out start at channel c0; the part's are c0 + [start, end) */
        Output o = a->o;
        o.f32 += start;
        depthwise_loop(a->x, (const int32_t *)a->w, a->bias + start, a->mult + start,
                       a->out + start * g->oh * g->ow, g, a->zero, o, a->c0 + start, a->c0 + end, &t);
    }
    free_scratch(&t);
}

/* depthwise(x, w, bias, mult, exact, out, c, h, w, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow, zero, c0, c1,
 *           zp, lo, hi, offset, parts, taps8): channels [c0, c1) of one sample into out (c1 - c0, oh * ow)
 * int8; bias and mult hold the values of those channels. taps8 = 0: w holds int32 taps; 1: int8
 * taps for the VNNI kernel (depthwise8_part; bias already holding - (zero + 128) * sum(w)). */
static void depthwise8_part(void *arg, int part, int parts);
static int vnni_supported(void);

static PyObject *depthwise(PyObject *self, PyObject *args) {
    Py_buffer x, w, bias, mult, exact, out;
    Geometry g;
    Py_ssize_t c0, c1;
    int zero, offset, parts, taps8;
    Output o;
    if (!PyArg_ParseTuple(args, "y*y*y*y*y*w*nnnnnnnnnnnnninndddiii", &x, &w, &bias, &mult, &exact, &out, &g.c,
                          &g.h, &g.w, &g.kh, &g.kw, &g.sh, &g.sw, &g.dh, &g.dw, &g.pt, &g.pl, &g.oh, &g.ow, &zero, &c0, &c1,
                          &o.zp, &o.lo, &o.hi, &offset, &parts, &taps8))
        return NULL;
    o.offset = offset;
    o.f32 = (const uint8_t *)exact.buf;
    const Py_ssize_t n = c1 - c0;
    int bad = bad_geometry(&g) || c0 < 0 || c1 > g.c || n < 0 || zero < -128 || zero > 127 ||
              x.len < g.c * g.h * g.w || w.len < g.c * g.kh * g.kw * (taps8 ? 1 : 4) || bias.len < n * 4 ||
              mult.len < n * 8 || exact.len < n || out.len < n * g.oh * g.ow || !(o.lo <= o.hi) || o.lo < -1024 ||
              o.hi > 1024;
    if (bad || (taps8 && !vnni_supported())) {
        PyBuffer_Release(&x); PyBuffer_Release(&w); PyBuffer_Release(&bias); PyBuffer_Release(&mult);
        PyBuffer_Release(&exact); PyBuffer_Release(&out);
        PyErr_SetString(PyExc_ValueError, bad ? "depthwise: buffers do not match the geometry"
                                              : "depthwise: int8 taps need AVX-512 VNNI, which this CPU lacks");
        return NULL;
    }
    DepthwiseCall call = {(const int8_t *)x.buf, w.buf, (const int32_t *)bias.buf, (const double *)mult.buf,
                          (int8_t *)out.buf, &g, zero, o, c0, c1, 0};
    Py_BEGIN_ALLOW_THREADS
    run_parts(taps8 ? depthwise8_part : depthwise_part, &call, parts);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&x); PyBuffer_Release(&w); PyBuffer_Release(&bias); PyBuffer_Release(&mult);
    PyBuffer_Release(&exact); PyBuffer_Release(&out);
    if (atomic_load(&call.failed))
        return PyErr_NoMemory();
    Py_RETURN_NONE;
}

/* --- int8 products with requantization (AVX-512 VNNI) --------------------------------------
 * out (O, P) = requant(W (O, K) x X (K, P) + bias): a convolution's weights times its patch
 * matrix (or, for a pointwise convolution, the input planes themselves), in the output's
 * (channels, pixels) layout. vpdpbusd adds four products of unsigned by signed bytes to each
 * int32 lane, without saturation: exact, since the kernels check |acc| + |bias| < 2**31 when they
 * are prepared. The activations are the unsigned operand, stored + 128 (the sign bit flipped);
 * W holds the declared weights w - zw (Python checks that they fit in int8) and `bias` absorbs
 * the shift: bias - (z + 128) * sum(w - zw), so that acc + bias is the exact accumulator.
 *
 * X is taken 64 pixels at a time (a tile): its rows are interleaved by fours into 4-byte groups
 * (16 pixels per vector, four vectors per group of four rows) once per tile, then every block
 * of up to BLOCK output channels keeps BLOCK x 4 vectors of accumulators in registers over the
 * whole depth, and requantizes them there (finish16: the operations of requant_one and
 * requant_one_f32 in vector form): the int32 accumulators never reach memory. Chunks take
 * contiguous runs of (tile, block) pairs, tile-major, packing each tile they enter. */
#define TILE 64
#define BLOCK 6

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#include <immintrin.h>
#define HAVE_VNNI 1
#define VNNI_TARGET __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx512vnni")))

static int vnni_supported(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
           __builtin_cpu_supports("avx512vnni");
}

/* One channel's bias and multiplier; the output's zero point and bounds are the same for all. */
typedef struct {
    int32_t bias;
    float m32;
    double m64;
    int f32;
} ProductRow;

typedef struct {
    __m512 zp32, lo32, hi32;
    __m512d zp64, lo64, hi64;
    __m512i offset;
} ProductOut;

VNNI_TARGET static void product_out(ProductOut *o, const Output *params) {
    o->zp32 = _mm512_set1_ps((float)params->zp);
    o->lo32 = _mm512_set1_ps((float)params->lo);
    o->hi32 = _mm512_set1_ps((float)params->hi);
    o->zp64 = _mm512_set1_pd(params->zp);
    o->lo64 = _mm512_set1_pd(params->lo);
    o->hi64 = _mm512_set1_pd(params->hi);
    o->offset = _mm512_set1_epi32(params->offset);
}

/* Rows 4q .. 4q+3 of the tile's pixels [p0, p0 + n) as bytes + 128, interleaved: group q holds
 * 256 bytes, pixel i's four bytes at 4 * i. Rows past K are zeros (their weights are zeros). */
VNNI_TARGET static void pack_tile(const int8_t *x, Py_ssize_t k, Py_ssize_t p, Py_ssize_t p0, Py_ssize_t n,
                                  Py_ssize_t kq, uint8_t *buf) {
    const __mmask64 m = n >= 64 ? ~0ULL : ((1ULL << n) - 1);
    const __m512i flip = _mm512_set1_epi8((char)0x80);
    for (Py_ssize_t q = 0; q < kq; q++) {
        __m512i r[4];
        for (int i = 0; i < 4; i++) {
            const Py_ssize_t row = 4 * q + i;
            r[i] = row < k ? _mm512_xor_si512(_mm512_maskz_loadu_epi8(m, x + row * p + p0), flip)
                           : _mm512_setzero_si512();
        }
        /* bytes of rows 0/1 and 2/3 paired, then the pairs paired: within each 128-bit lane L,
         * q0 holds pixels 16L + 0..3, q1 16L + 4..7, q2 16L + 8..11, q3 16L + 12..15 */
        const __m512i t0 = _mm512_unpacklo_epi8(r[0], r[1]), t1 = _mm512_unpackhi_epi8(r[0], r[1]);
        const __m512i t2 = _mm512_unpacklo_epi8(r[2], r[3]), t3 = _mm512_unpackhi_epi8(r[2], r[3]);
        const __m512i q0 = _mm512_unpacklo_epi16(t0, t2), q1 = _mm512_unpackhi_epi16(t0, t2);
        const __m512i q2 = _mm512_unpacklo_epi16(t1, t3), q3 = _mm512_unpackhi_epi16(t1, t3);
        /* lanes regrouped so that vector v holds pixels 16v .. 16v + 15 in order */
        const __m512i a = _mm512_shuffle_i32x4(q0, q1, 0x44), b = _mm512_shuffle_i32x4(q2, q3, 0x44);
        const __m512i c = _mm512_shuffle_i32x4(q0, q1, 0xEE), d = _mm512_shuffle_i32x4(q2, q3, 0xEE);
        uint8_t *out = buf + q * 256;
        _mm512_store_si512(out, _mm512_shuffle_i32x4(a, b, 0x88));
        _mm512_store_si512(out + 64, _mm512_shuffle_i32x4(a, b, 0xDD));
        _mm512_store_si512(out + 128, _mm512_shuffle_i32x4(c, d, 0x88));
        _mm512_store_si512(out + 192, _mm512_shuffle_i32x4(c, d, 0xDD));
    }
}

/* Sixteen accumulators of one channel requantized as requant_one / requant_one_f32 compute
 * them (the same operations in the same order, each rounded alike; the final rounding half to
 * even by the conversion instruction, which gives what the 1.5 * 2**k addition gives in the
 * default rounding mode on these clamped values); the bytes kept stored. */
VNNI_TARGET static inline __attribute__((always_inline)) void finish16(__m512i acc, const ProductRow *c,
                                                                      const ProductOut *o, int8_t *y,
                                                                      __mmask16 keep) {
    const __m512i t = _mm512_add_epi32(acc, _mm512_set1_epi32(c->bias));
    __m512i v;
    if (c->f32) {
        __m512 r = _mm512_mul_ps(_mm512_cvtepi32_ps(t), _mm512_set1_ps(c->m32));
        r = _mm512_add_ps(r, o->zp32);
        r = _mm512_min_ps(_mm512_max_ps(r, o->lo32), o->hi32);
        v = _mm512_sub_epi32(_mm512_cvtps_epi32(r), o->offset);
    } else {
        const __m512d m = _mm512_set1_pd(c->m64);
        __m512d lo = _mm512_cvtepi32_pd(_mm512_castsi512_si256(t));
        __m512d hi = _mm512_cvtepi32_pd(_mm512_extracti64x4_epi64(t, 1));
        lo = _mm512_add_pd(_mm512_mul_pd(lo, m), o->zp64);
        hi = _mm512_add_pd(_mm512_mul_pd(hi, m), o->zp64);
        lo = _mm512_min_pd(_mm512_max_pd(lo, o->lo64), o->hi64);
        hi = _mm512_min_pd(_mm512_max_pd(hi, o->lo64), o->hi64);
        v = _mm512_inserti64x4(_mm512_castsi256_si512(_mm512_cvtpd_epi32(lo)), _mm512_cvtpd_epi32(hi), 1);
        v = _mm512_sub_epi32(v, o->offset);
    }
    if (keep == 0xFFFF)
        _mm_storeu_si128((__m128i *)y, _mm512_cvtepi32_epi8(v));
    else
        _mm_mask_storeu_epi8(y, keep, _mm512_cvtepi32_epi8(v));
}

/* R channels (rows of w, `ws` bytes apart) times V vectors of the packed tile over kq groups,
 * requantized into out (row stride p), n pixels kept. R and V are constants where it is inlined
 * (dot_block): the accumulators are named variables, which the compiler keeps in registers (an
 * array of vectors it kept in memory, storing every one at each step). */
/* vpdpbusd through inline assembly: with the intrinsic, GCC 12 copied every accumulator to a
 * fresh register and to the stack at each step (about half the speed). */
#define DPBUSD(acc, x, w) __asm__("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(x), "v"(w))
#define ACC(r) __m512i s##r##0 = z, s##r##1 = z, s##r##2 = z, s##r##3 = z;
#define MAC(r)                                                                                                 \
    if (R > r) {                                                                                               \
        int32_t d;                                                                                             \
        memcpy(&d, w + r * ws + 4 * q, sizeof d);                                                              \
        const __m512i wb = _mm512_set1_epi32(d);                                                               \
        DPBUSD(s##r##0, x0, wb);                                                        \
        if (V > 1) DPBUSD(s##r##1, x1, wb);                                             \
        if (V > 2) DPBUSD(s##r##2, x2, wb);                                             \
        if (V > 3) DPBUSD(s##r##3, x3, wb);                                             \
    }
#define FINISH(r)                                                                                              \
    if (R > r) {                                                                                               \
        int8_t *y = out + r * p;                                                                               \
        finish16(s##r##0, &rows[r], o, y, keep[0]);                                                               \
        if (V > 1) finish16(s##r##1, &rows[r], o, y + 16, keep[1]);                                               \
        if (V > 2) finish16(s##r##2, &rows[r], o, y + 32, keep[2]);                                               \
        if (V > 3) finish16(s##r##3, &rows[r], o, y + 48, keep[3]);                                               \
    }

VNNI_TARGET static inline __attribute__((always_inline)) void dot_rv(const uint8_t *buf, const int8_t *w,
                                                                    Py_ssize_t ws, Py_ssize_t kq,
                                                                    const ProductRow *rows, const ProductOut *o,
                                                                    int8_t *out, Py_ssize_t p, const __mmask16 *keep,
                                                                    const int R, const int V) {
    const __m512i z = _mm512_setzero_si512();
    ACC(0) ACC(1) ACC(2) ACC(3) ACC(4) ACC(5)
    for (Py_ssize_t q = 0; q < kq; q++) {
        const uint8_t *b = buf + q * 256;
        const __m512i x0 = _mm512_load_si512(b);
        const __m512i x1 = V > 1 ? _mm512_load_si512(b + 64) : z;
        const __m512i x2 = V > 2 ? _mm512_load_si512(b + 128) : z;
        const __m512i x3 = V > 3 ? _mm512_load_si512(b + 192) : z;
        MAC(0) MAC(1) MAC(2) MAC(3) MAC(4) MAC(5)
    }
    FINISH(0) FINISH(1) FINISH(2) FINISH(3) FINISH(4) FINISH(5)
}

#define DOT_CASE(R, V)                                                                                         \
    case (R) * 8 + (V):                                                                                        \
        dot_rv(buf, w, ws, kq, rows, o, out, p, keep, R, V);                                                      \
        break;
#define DOT_CASES(R) DOT_CASE(R, 1) DOT_CASE(R, 2) DOT_CASE(R, 3) DOT_CASE(R, 4)

VNNI_TARGET static void dot_block(const uint8_t *buf, const int8_t *w, Py_ssize_t ws, Py_ssize_t kq,
                                  const ProductRow *rows, const ProductOut *o, int8_t *out, Py_ssize_t p,
                                  Py_ssize_t n, int count) {
    __mmask16 keep[4];
    for (int v = 0; v < 4; v++) {
        const Py_ssize_t left = n - 16 * v;
        keep[v] = left >= 16 ? 0xFFFF : left <= 0 ? 0 : (__mmask16)((1u << left) - 1);
    }
    switch (count * 8 + (int)((n + 15) / 16)) {
        DOT_CASES(1) DOT_CASES(2) DOT_CASES(3) DOT_CASES(4) DOT_CASES(5) DOT_CASES(6)
    }
}

#else
static int vnni_supported(void) { return 0; }
#endif

typedef struct {
    const int8_t *w; /* (O, kq * 4) declared weights, zeros past K */
    const int8_t *x; /* (K, P) stored activations */
    const int32_t *bias;
    const double *mult;
    int8_t *out; /* (O, P) */
    Py_ssize_t o, k, p, kq;
    Output params;
    atomic_int failed;
} ProductCall;

static void product_part(void *arg, int part, int parts) {
#ifdef HAVE_VNNI
    ProductCall *a = (ProductCall *)arg;
    const Py_ssize_t tiles = (a->p + TILE - 1) / TILE, blocks = (a->o + BLOCK - 1) / BLOCK;
    Py_ssize_t start, end;
    span_of(tiles * blocks, part, parts, &start, &end);
    if (start >= end)
        return;
    uint8_t *buf = scratch((size_t)a->kq * 256, 0);
    ProductRow rows[BLOCK];
    ProductOut out_params; /* the output's parameters, broadcast once for the whole call */
    product_out(&out_params, &a->params);
    if (buf == NULL) {
        atomic_store(&a->failed, 1);
    } else {
        Py_ssize_t packed = -1;
        const Py_ssize_t ws = a->kq * 4;
        for (Py_ssize_t item = start; item < end; item++) {
            const Py_ssize_t tile = item / blocks, block = item % blocks;
            const Py_ssize_t p0 = tile * TILE, n = a->p - p0 < TILE ? a->p - p0 : TILE;
            if (tile != packed) {
                pack_tile(a->x, a->k, a->p, p0, n, a->kq, buf);
                packed = tile;
            }
            const Py_ssize_t o0 = block * BLOCK;
            const int count = (int)(a->o - o0 < BLOCK ? a->o - o0 : BLOCK);
            for (int r = 0; r < count; r++) {
                const Py_ssize_t c = o0 + r;
                rows[r] = (ProductRow){a->bias[c], (float)a->mult[c], a->mult[c], a->params.f32[c]};
            }
            dot_block(buf, a->w + o0 * ws, ws, a->kq, rows, &out_params, a->out + o0 * a->p + p0, a->p, n, count);
        }
    }
    free(buf);
#else
    (void)arg; (void)part; (void)parts;
#endif
}

/* product(w, x, bias, mult, exact, out, o, k, p, zp, lo, hi, offset, parts): out (o, p) int8 =
 * requant(w (o, ceil(k / 4) * 4) declared int8 weights x x (k, p) stored int8 activations + 128,
 * plus bias); bias, mult and exact per output channel, as for `requant`. Only where vnni() is
 * true. */
static PyObject *product(PyObject *self, PyObject *args) {
    Py_buffer w, x, bias, mult, exact, out;
    Py_ssize_t o, k, p;
    int offset, parts;
    Output params;
    if (!PyArg_ParseTuple(args, "y*y*y*y*y*w*nnndddii", &w, &x, &bias, &mult, &exact, &out, &o, &k, &p, &params.zp,
                          &params.lo, &params.hi, &offset, &parts))
        return NULL;
    params.offset = offset;
    params.f32 = (const uint8_t *)exact.buf;
    const Py_ssize_t kq = (k + 3) / 4;
    const int bad = o <= 0 || k <= 0 || p <= 0 || w.len < o * kq * 4 || x.len < k * p || bias.len < o * 4 ||
                    mult.len < o * 8 || exact.len < o || out.len < o * p || !(params.lo <= params.hi) ||
                    params.lo < -1024 || params.hi > 1024;
    if (bad || !vnni_supported()) {
        PyBuffer_Release(&w); PyBuffer_Release(&x); PyBuffer_Release(&bias); PyBuffer_Release(&mult);
        PyBuffer_Release(&exact); PyBuffer_Release(&out);
        PyErr_SetString(PyExc_ValueError, bad ? "product: buffers do not match the dimensions"
                                              : "product: this CPU has no AVX-512 VNNI");
        return NULL;
    }
    ProductCall call = {(const int8_t *)w.buf, (const int8_t *)x.buf, (const int32_t *)bias.buf,
                        (const double *)mult.buf, (int8_t *)out.buf, o, k, p, kq, params, 0};
    Py_BEGIN_ALLOW_THREADS
    run_parts(product_part, &call, parts);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&w); PyBuffer_Release(&x); PyBuffer_Release(&bias); PyBuffer_Release(&mult);
    PyBuffer_Release(&exact); PyBuffer_Release(&out);
    if (atomic_load(&call.failed))
        return PyErr_NoMemory();
    Py_RETURN_NONE;
}

static PyObject *vnni(PyObject *self, PyObject *noargs) { return PyBool_FromLong(vnni_supported()); }

/* From now on the workers poll SHORT_SPIN_NS: onnxruntime's pool computes the process's matrix
 * products on every core, and a worker polling through a whole product slows it down. */
static PyObject *set_short_polls(PyObject *self, PyObject *noargs) {
    atomic_store_explicit(&short_polls, 1, memory_order_relaxed);
    Py_RETURN_NONE;
}

/* --- depthwise convolution on AVX-512 VNNI ------------------------------------------------------
 * The same phase planes as `depthwise` (one per stride phase; output (oy, ox) of every tap reads
 * one plane at a constant offset from oy * width + ox), but of bytes: the stored input + 128 (the
 * sign bit flipped), the padding holding zero + 128 so that every tap sees x - zero exactly as the
 * definition does once the bias absorbs (zero + 128) * sum(w) (Python passes it so).
 *
 * Taps that read the same plane row at columns c .. c + 3 form a *segment*: the 4-byte word at
 * plane byte f + c holds exactly the bytes those taps read for output f, so vpdpbusd with the
 * segment's four weights (zero where no tap is) adds all their products to output f's sum. Words
 * loaded at f0 + s (s = 0..3) give outputs f0 + s + 4j (j = 0..15): four loads and four vpdpbusd
 * per segment give 64 outputs, no byte shuffled; a 3 x 3 kernel with unit strides is three
 * segments, with strides of 2 six. Each of the four sums is requantized (finish16) and the four
 * results interleaved back into output order, into a row-wide buffer whose rows are then packed
 * into the output (the columns past ow dropped). The declared taps must fit in int8. */
#ifdef HAVE_VNNI
typedef struct {
    Py_ssize_t rows, width, size; /* of one phase plane; size includes the slack read past its end */
    uint8_t *phases;
    int8_t *wide;
    uint8_t *line; /* one padded input row */
} Planes8;

typedef struct {
    Py_ssize_t offset; /* from the first plane's start to output 0's word */
    int tap[4];        /* the taps (index into the channel's kh * kw) in its four bytes, or -1 */
} Segment;

/* The planes of channel `src` (h, w): only the input's bytes are written, + 128; the padding
 * was set once for all channels (fill with the same byte everywhere first). */
VNNI_TARGET static void fill_planes8(const int8_t *src, const Geometry *g, Planes8 *t) {
    const Py_ssize_t sh = g->sh, sw = g->sw, width = t->width, wp = sw * width;
    const Py_ssize_t j0 = g->pl < wp ? g->pl : wp, j1 = g->pl + g->w < wp ? g->pl + g->w : wp;
    if (j1 <= j0)
        return;
    const Py_ssize_t n = j1 - j0;
    const __m512i flip = _mm512_set1_epi8((char)0x80);
    for (Py_ssize_t rr = 0; rr < sh; rr++)
        for (Py_ssize_t r = 0; r < t->rows; r++) {
            const Py_ssize_t iy = r * sh + rr - g->pt;
            if (iy < 0 || iy >= g->h)
                continue;
            const int8_t *in = src + iy * g->w + (j0 - g->pl);
            uint8_t *dst = sw == 1 ? t->phases + rr * t->size + r * width + j0 : t->line + j0;
            for (Py_ssize_t j = 0; j < n; j += 64) {
                const __mmask64 m = n - j >= 64 ? ~0ULL : ((1ULL << (n - j)) - 1);
                _mm512_mask_storeu_epi8(dst + j, m, _mm512_xor_si512(_mm512_maskz_loadu_epi8(m, in + j), flip));
            }
            if (sw == 1)
                continue;
            const uint8_t *line = t->line;
            uint8_t *p0 = t->phases + (rr * sw) * t->size + r * width;
            if (sw == 2) { /* even bytes to phase 0, odd ones to phase 1, 32 of each per step */
                uint8_t *p1 = p0 + t->size;
                for (Py_ssize_t j = 0; j < width; j += 32) {
                    const __m512i v = _mm512_loadu_si512(line + 2 * j); /* line has slack for it */
                    const __mmask32 m = width - j >= 32 ? 0xFFFFFFFFu : ((1u << (width - j)) - 1);
                    _mm256_mask_storeu_epi8(p0 + j, m, _mm512_cvtepi16_epi8(v));
                    _mm256_mask_storeu_epi8(p1 + j, m, _mm512_cvtepi16_epi8(_mm512_srli_epi16(v, 8)));
                }
            } else {
                for (Py_ssize_t rc = 0; rc < sw; rc++) {
                    uint8_t *dst_rc = p0 + rc * t->size;
                    for (Py_ssize_t j = 0; j < width; j++)
                        dst_rc[j] = line[j * sw + rc];
                }
            }
        }
}

/* One channel: `seg` its segments with `wq` their four weights as one word each. */
VNNI_TARGET static void dw8_channel(const uint8_t *phases, const Segment *seg, const int32_t *wq, int segments,
                                    Py_ssize_t count, const ProductRow *row, const ProductOut *o, int8_t *wide) {
    for (Py_ssize_t f = 0; f < count; f += 64) {
        __m512i s0 = _mm512_setzero_si512(), s1 = s0, s2 = s0, s3 = s0;
        for (int q = 0; q < segments; q++) {
            const uint8_t *p = phases + seg[q].offset + f;
            const __m512i wb = _mm512_set1_epi32(wq[q]);
            const __m512i r0 = _mm512_loadu_si512(p), r1 = _mm512_loadu_si512(p + 1);
            const __m512i r2 = _mm512_loadu_si512(p + 2), r3 = _mm512_loadu_si512(p + 3);
            DPBUSD(s0, r0, wb);
            DPBUSD(s1, r1, wb);
            DPBUSD(s2, r2, wb);
            DPBUSD(s3, r3, wb);
        }
        /* s_k holds outputs f + k + 4j: requantized to bytes, then interleaved back */
        int8_t b[4][16] __attribute__((aligned(16)));
        finish16(s0, row, o, b[0], 0xFFFF);
        finish16(s1, row, o, b[1], 0xFFFF);
        finish16(s2, row, o, b[2], 0xFFFF);
        finish16(s3, row, o, b[3], 0xFFFF);
        const __m128i b0 = _mm_load_si128((const __m128i *)b[0]), b1 = _mm_load_si128((const __m128i *)b[1]);
        const __m128i b2 = _mm_load_si128((const __m128i *)b[2]), b3 = _mm_load_si128((const __m128i *)b[3]);
        const __m128i lo01 = _mm_unpacklo_epi8(b0, b1), hi01 = _mm_unpackhi_epi8(b0, b1);
        const __m128i lo23 = _mm_unpacklo_epi8(b2, b3), hi23 = _mm_unpackhi_epi8(b2, b3);
        _mm_storeu_si128((__m128i *)(wide + f), _mm_unpacklo_epi16(lo01, lo23));
        _mm_storeu_si128((__m128i *)(wide + f + 16), _mm_unpackhi_epi16(lo01, lo23));
        _mm_storeu_si128((__m128i *)(wide + f + 32), _mm_unpacklo_epi16(hi01, hi23));
        _mm_storeu_si128((__m128i *)(wide + f + 48), _mm_unpackhi_epi16(hi01, hi23));
    }
}

static void depthwise8_part(void *arg, int part, int parts) {
    DepthwiseCall *a = (DepthwiseCall *)arg;
    const Geometry *g = a->g;
    Py_ssize_t start, end;
    span_of(a->c1 - a->c0, part, parts, &start, &end);
    if (start >= end)
        return;
    const int taps = (int)(g->kh * g->kw);
    Planes8 t = {0, 0, 0, NULL, NULL, NULL};
    t.width = g->ow + ((g->kw - 1) * g->dw) / g->sw;
    t.rows = g->oh + ((g->kh - 1) * g->dh) / g->sh;
    const Py_ssize_t count = g->oh * t.width; /* outputs computed, the columns past ow dropped */
    t.size = (t.rows + 1) * t.width + 128;     /* words run to 64 + 3 past count, shifted by a tap */
    t.phases = scratch((size_t)(g->sh * g->sw * t.size), 0);
    t.wide = scratch((size_t)(count + 64 + VECTOR), 0); /* whole steps of 64, + pack_rows' overrun */
    t.line = scratch((size_t)(g->sw * t.width + 64), 0); /* + the last 64-byte read of its split */
    Segment *seg = malloc(sizeof(Segment) * (size_t)taps);
    int32_t *wq = malloc(sizeof(int32_t) * (size_t)taps);
    if (t.phases == NULL || t.wide == NULL || t.line == NULL || seg == NULL || wq == NULL) {
        atomic_store(&a->failed, 1);
    } else {
        const uint8_t pad = (uint8_t)(a->zero ^ 0x80);
        memset(t.phases, pad, (size_t)(g->sh * g->sw * t.size));
        memset(t.line, pad, (size_t)(g->sw * t.width + 64));
        /* taps by plane and row, in column order (kx rising), cut into runs of four columns */
        int segments = 0;
        for (Py_ssize_t ky = 0; ky < g->kh; ky++)
            for (Py_ssize_t rc = 0; rc < g->sw; rc++) {
                const Py_ssize_t phase = ((ky * g->dh) % g->sh) * g->sw + rc;
                const Py_ssize_t base = phase * t.size + ((ky * g->dh) / g->sh) * t.width;
                Segment *open = NULL;
                Py_ssize_t first = 0;
                for (Py_ssize_t kx = 0; kx < g->kw; kx++) {
                    if ((kx * g->dw) % g->sw != rc)
                        continue;
                    const Py_ssize_t col = (kx * g->dw) / g->sw;
                    if (open == NULL || col - first >= 4) {
                        open = &seg[segments++];
                        first = col;
                        open->offset = base + col;
                        open->tap[0] = open->tap[1] = open->tap[2] = open->tap[3] = -1;
                    }
                    open->tap[col - first] = (int)(ky * g->kw + kx);
                }
            }
        ProductOut out_params;
        product_out(&out_params, &a->o);
        for (Py_ssize_t j = start; j < end; j++) {
            const Py_ssize_t ch = a->c0 + j;
            for (int q = 0; q < segments; q++) {
                uint8_t b[4];
                for (int i = 0; i < 4; i++)
                    b[i] = seg[q].tap[i] < 0 ? 0 : (uint8_t)((const int8_t *)a->w)[ch * taps + seg[q].tap[i]];
                memcpy(&wq[q], b, 4);
            }
            fill_planes8(a->x + ch * g->h * g->w, g, &t);
            const ProductRow row = {a->bias[j], (float)a->mult[j], a->mult[j], a->o.f32[j]};
            dw8_channel(t.phases, seg, wq, segments, count, &row, &out_params, t.wide);
            pack_rows(a->out + j * g->oh * g->ow, t.wide, g->oh, g->ow, t.width);
        }
    }
    free(t.phases);
    free(t.wide);
    free(t.line);
    free(seg);
    free(wq);
}
#else
static void depthwise8_part(void *arg, int part, int parts) { (void)arg; (void)part; (void)parts; }
#endif

/* --- two-input arithmetic ------------------------------------------------------------------ */
/* quantize(act(dequantize(a) op dequantize(b))) computed in float32 as numpy computes the pair
 * table (furiosa.common.qmath.pair_table): each dequantized operand (q - zp) * scale rounded to
 * float32, the operation rounded to float32, the activation, then x / scale_out rounded to
 * float32, rounded half to even, plus the zero point, clamped. Python checks it against the
 * table on all 65,536 pairs before using it, so it is only ever an exact replacement. */
typedef struct {
    int op, act;              /* op: 0 add, 1 sub, 2 mul; act: 0 none, 1 clip(act_lo, act_hi) */
    int za, zb;               /* stored value minus declared zero point: q + offset - zp */
    float sa, sb, so, act_lo, act_hi;
    float lo, hi;             /* declared bounds minus the output zero point */
    int zo;                   /* output zero point minus its storage offset */
} Arith;

static const float ROUND_MAGIC_F = 12582912.0f; /* 1.5 * 2**23 */

WIDE static void arith_loop(const int8_t *restrict a, const int8_t *restrict b, int8_t *restrict y, Py_ssize_t n,
                            Arith p) {
    const int op = p.op, act = p.act, za = p.za, zb = p.zb, zo = p.zo;
    const float sa = p.sa, sb = p.sb, so = p.so, alo = p.act_lo, ahi = p.act_hi, lo = p.lo, hi = p.hi;
    for (Py_ssize_t i = 0; i < n; i++) {
        const float fa = (float)((int)a[i] + za) * sa;
        const float fb = (float)((int)b[i] + zb) * sb;
        float v = op == 0 ? fa + fb : (op == 1 ? fa - fb : fa * fb);
        if (act) {
            v = v < alo ? alo : v;
            v = v > ahi ? ahi : v;
        }
        float t = v / so;
        t = t != t ? 0.0f : t; /* NaN quantizes to the zero point */
        t = t < lo ? lo : t;
        t = t > hi ? hi : t;
        t = (t + ROUND_MAGIC_F) - ROUND_MAGIC_F;
        y[i] = (int8_t)((int)t + zo);
    }
}

/* Element-wise calls (arith, pair_lut, quantize) cut into spans of 64 values. */
static void value_span(Py_ssize_t n, int part, int parts, Py_ssize_t *start, Py_ssize_t *end) {
    span_of((n + 63) / 64, part, parts, start, end);
    *start = *start * 64 < n ? *start * 64 : n;
    *end = *end * 64 < n ? *end * 64 : n;
}

typedef struct {
    const int8_t *a, *b;
    int8_t *y;
    Py_ssize_t n;
    Arith p;
} ArithCall;

static void arith_part(void *arg, int part, int parts) {
    const ArithCall *c = (const ArithCall *)arg;
    Py_ssize_t start, end;
    value_span(c->n, part, parts, &start, &end);
    arith_loop(c->a + start, c->b + start, c->y + start, end - start, c->p);
}

/* arith(a, b, out, op, act, za, zb, sa, sb, so, act_lo, act_hi, lo, hi, zo, parts) */
static PyObject *arith(PyObject *self, PyObject *args) {
    Py_buffer a, b, out;
    Arith p;
    int parts;
    if (!PyArg_ParseTuple(args, "y*y*w*iiiifffffffii", &a, &b, &out, &p.op, &p.act, &p.za, &p.zb, &p.sa, &p.sb,
                          &p.so, &p.act_lo, &p.act_hi, &p.lo, &p.hi, &p.zo, &parts))
        return NULL;
    const Py_ssize_t n = out.len;
    if (a.len != n || b.len != n || p.op < 0 || p.op > 2 || !(p.lo <= p.hi) || p.lo < -1024 || p.hi > 1024) {
        PyBuffer_Release(&a); PyBuffer_Release(&b); PyBuffer_Release(&out);
        PyErr_SetString(PyExc_ValueError, "arith: operands differ in size or the parameters are out of range");
        return NULL;
    }
    ArithCall call = {(const int8_t *)a.buf, (const int8_t *)b.buf, (int8_t *)out.buf, n, p};
    Py_BEGIN_ALLOW_THREADS
    run_parts(arith_part, &call, parts);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&a); PyBuffer_Release(&b); PyBuffer_Release(&out);
    Py_RETURN_NONE;
}

/* --- quantize ----------------------------------------------------------------------------------- */
/* float32 -> stored int8 with one scale (furiosa.common.qmath.quantize): s = x / scale in float32,
 * rounded half to even in float32 (NaN to 0), then s + zp clamped to [lo, hi], minus the storage
 * offset. The float32 rounding trick is exact for |s| < 2**22, and so is s + zp for the integers
 * it gives (zp, lo and hi are integers of at most 1024); larger values (and infinities) stay far
 * beyond any bound, so they clamp as numpy's rint and float64 sum would. (All in float32: with
 * the sum and clamps in float64, as the definition writes them, the compiler left the loop
 * scalar.) */
WIDE static void quantize_loop(const float *restrict x, int8_t *restrict y, Py_ssize_t n, float scale, float zp,
                               float lo, float hi, int offset) {
    for (Py_ssize_t i = 0; i < n; i++) {
        float s = x[i] / scale;
        s = s != s ? 0.0f : s;
        s = (s + ROUND_MAGIC_F) - ROUND_MAGIC_F;
        s = s + zp;
        s = s < lo ? lo : s;
        s = s > hi ? hi : s;
        y[i] = (int8_t)((int)s - offset);
    }
}

typedef struct {
    const float *x;
    int8_t *y;
    Py_ssize_t n;
    float scale;
    double zp, lo, hi;
    int offset;
} QuantizeCall;

static void quantize_part(void *arg, int part, int parts) {
    const QuantizeCall *a = (const QuantizeCall *)arg;
    Py_ssize_t start, end;
    value_span(a->n, part, parts, &start, &end);
    quantize_loop(a->x + start, a->y + start, end - start, a->scale, (float)a->zp, (float)a->lo, (float)a->hi,
                  a->offset);
}

/* quantize(x, out, scale, zp, lo, hi, offset, parts) */
static PyObject *quantize(PyObject *self, PyObject *args) {
    Py_buffer x, out;
    float scale;
    double zp, lo, hi;
    int offset, parts;
    if (!PyArg_ParseTuple(args, "y*w*fdddii", &x, &out, &scale, &zp, &lo, &hi, &offset, &parts))
        return NULL;
    const Py_ssize_t n = out.len;
    if (x.len != n * 4 || !(scale > 0.0f) || !(lo <= hi) || lo < -1024 || hi > 1024 || lo != (int)lo ||
        hi != (int)hi || !(zp >= -1024 && zp <= 1024) || zp != (int)zp) {
        PyBuffer_Release(&x); PyBuffer_Release(&out);
        PyErr_SetString(PyExc_ValueError, "quantize: buffers differ in size or the parameters are out of range");
        return NULL;
    }
    QuantizeCall call = {(const float *)x.buf, (int8_t *)out.buf, n, scale, zp, lo, hi, offset};
    Py_BEGIN_ALLOW_THREADS
    run_parts(quantize_part, &call, parts);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&x); PyBuffer_Release(&out);
    Py_RETURN_NONE;
}

/* --- two-input lookup tables ------------------------------------------------------------------ */
typedef struct {
    const uint8_t *a, *b;
    const int8_t *table;
    int8_t *y;
    Py_ssize_t n;
} LutCall;

static void pair_lut_part(void *arg, int part, int parts) {
    const LutCall *c = (const LutCall *)arg;
    Py_ssize_t start, end;
    value_span(c->n, part, parts, &start, &end);
    for (Py_ssize_t i = start; i < end; i++)
        c->y[i] = c->table[((unsigned)c->a[i] << 8) | c->b[i]];
}

/* pair_lut(a, b, lut, out, parts) */
static PyObject *pair_lut(PyObject *self, PyObject *args) {
    Py_buffer a, b, lut, out;
    int parts;
    if (!PyArg_ParseTuple(args, "y*y*y*w*i", &a, &b, &lut, &out, &parts))
        return NULL;
    const Py_ssize_t n = out.len;
    if (a.len != n || b.len != n || lut.len != 65536) {
        PyBuffer_Release(&a); PyBuffer_Release(&b); PyBuffer_Release(&lut); PyBuffer_Release(&out);
        PyErr_SetString(PyExc_ValueError, "pair_lut: operands differ in size or the table is not 65536 bytes");
        return NULL;
    }
    LutCall call = {(const uint8_t *)a.buf, (const uint8_t *)b.buf, (const int8_t *)lut.buf, (int8_t *)out.buf, n};
    Py_BEGIN_ALLOW_THREADS
    run_parts(pair_lut_part, &call, parts);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&a); PyBuffer_Release(&b); PyBuffer_Release(&lut); PyBuffer_Release(&out);
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"im2col", im2col, METH_VARARGS, "Patch rows of stored int8 activations, as uint8 (stored + 128)."},
    {"requant", requant, METH_VARARGS, "Requantize int32 accumulators to stored int8."},
    {"requant_exact", requant_exact, METH_VARARGS, "Channels whose requantization float32 computes exactly."},
    {"depthwise", depthwise, METH_VARARGS, "A depthwise convolution: exact int32 sums, requantized."},
    {"pair_lut", pair_lut, METH_VARARGS, "Apply a 65536-entry table to two int8 operands."},
    {"quantize", quantize, METH_VARARGS, "Quantize float32 values to stored int8 with one scale."},
    {"arith", arith, METH_VARARGS, "Add, subtract or multiply two quantized operands, as their pair table."},
    {"product", product, METH_VARARGS, "Int8 weights times a patch matrix, requantized (AVX-512 VNNI)."},
    {"short_polls", set_short_polls, METH_NOARGS, "Worker threads poll 0.2 ms (not 5 ms) from now on."},
    {"vnni", vnni, METH_NOARGS, "Whether this CPU runs `product`."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_native", "Native loops of the emulated NPU's kernels.",
                                    -1, methods};

/* Raised whenever a function's arguments change, so that a stale build left in place by a failed
 * rebuild is refused by native.py instead of being called with the wrong arguments. */
#define NATIVE_ABI 10

PyMODINIT_FUNC PyInit__native(void) {
    static int registered;
    if (!registered) {
        pthread_atfork(NULL, NULL, after_fork_in_child);
        registered = 1;
    }
    PyObject *m = PyModule_Create(&module);
    if (m != NULL && PyModule_AddIntConstant(m, "ABI", NATIVE_ABI) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
