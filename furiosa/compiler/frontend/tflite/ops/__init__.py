"""Translators of TFLite operators, one module per family; importing them fills
:data:`~furiosa.compiler.frontend.tflite.translate.OPERATORS`."""
