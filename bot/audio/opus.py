"""Opus as Discord's voice calls carry it: 48 kHz stereo, one packet per 20 ms frame."""

SAMPLE_RATE = 48_000
CHANNELS = 2
FRAME_SAMPLES = 960  # 20 ms
SILENCE = b"\xf8\xff\xfe"  # one Opus frame of silence
