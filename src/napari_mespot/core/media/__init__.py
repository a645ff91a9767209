"""Reading and writing videos: frame-accurate sources, the encoder, the shipped samples."""
