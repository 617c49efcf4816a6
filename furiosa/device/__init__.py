"""furiosa.device: the emulated Warboy NPUs of this machine (placeholder until the API lands)."""
