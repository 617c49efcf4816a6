"""``furiosa.runtime.consts``: empty, as documented for 0.10."""
