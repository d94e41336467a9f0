"""Audio containers batchtts reads and writes itself: MP3 frames, WAV, Ogg, ID3 tags, durations."""
