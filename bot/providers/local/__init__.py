"""The embedded local engine: faster-whisper for transcription and translation,
eSpeak NG (or a configured Piper voice) for speech, behind the provider interface.

The engines are blocking and run in worker threads. May import what `bot.providers` may.
"""
