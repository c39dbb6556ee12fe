"""The embedded speech engines behind `AUDIO_PROVIDER=local`: speech to text with
faster-whisper, text to speech with eSpeak NG and, optionally, Piper voices.

Everything here runs in this process and blocks while it works: `providers.local` calls it
from worker threads, under its cap on inference jobs, never on the event loop. Each model is
loaded once, on first use, and shared by every call.
"""
