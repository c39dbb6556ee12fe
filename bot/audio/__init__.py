"""Audio files through PyAV: opening untrusted files safely, probing, decoding within a
budget, encoding (voice messages, waveform, formats), raw PCM, cutting long recordings.

Every function is synchronous and CPU- or disk-bound: callers run it in a worker thread.
May import: `bot.runtime` (workers' stop flag), `bot.errors`, `bot.model`. Never discord.py.
"""
