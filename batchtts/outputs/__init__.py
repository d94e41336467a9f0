"""What a run leaves besides the clips: dataset metadata, the packaged book, the m4b encoder."""
