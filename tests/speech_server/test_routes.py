"""earshot's speech server over real loopback HTTP, asked as any OpenAI client asks: each
transcript format in OpenAI's shape, the options that reach the engine, speech in every format
with the Content-Type OpenAI sends, the models list, and every refusal (a field the API would
refuse, bad audio, an upload over the limit, a missing or wrong key, an unknown route, a failing
engine) as one OpenAI error body. A client that goes away stops the engine and leaves no file
behind. The engine's transcriber is a stand-in (tests/engine_stand_ins.py); its speech is
eSpeak NG's. The real engine behind this API is checked by the provider contract."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from bot.audio.probe import probe
from bot.errors import ProviderUnavailable
from bot.model import TranscriptionOptions
from bot.providers.interface import AudioUpload
from bot.providers.local.espeak import ESpeakEngine
from bot.providers.local.provider import LocalProvider
from bot.speech_server.middlewares import MISSING_KEY, WRONG_KEY
from bot.speech_server.request_body import MAX_FIELDS
from bot.speech_server.routes import Limits
from tests import audio_samples
from tests.conftest import make_provider
from tests.engine_stand_ins import Scripted, Stubborn
from tests.fakes.audio_api import API_KEY
from tests.loop_watchdog import LoopWatchdog
from tests.speech_server.served import ServedEngine

AUTHORIZED = {"Authorization": f"Bearer {API_KEY}"}
TRANSCRIPTIONS = "/v1/audio/transcriptions"
TRANSLATIONS = "/v1/audio/translations"
SPEECH = "/v1/audio/speech"
MEMO = audio_samples.encode(2.0, "ogg")
ENGLISH = "English (America)"


class Noting:
    """eSpeak NG, noting the voice and speed of each piece of speech asked."""

    def __init__(self, espeak: ESpeakEngine) -> None:
        self.voices = espeak.voices
        self.asked: list[tuple[str, float]] = []
        self._espeak = espeak

    def synthesize(self, text: str, voice: str, speed: float):
        self.asked.append((voice, speed))
        return self._espeak.synthesize(text, voice, speed)


@pytest.fixture
def transcriber() -> Scripted:
    return Scripted()


@pytest.fixture
def synthesizer(espeak) -> Noting:
    return Noting(espeak)


@pytest.fixture
async def serve(transcriber, synthesizer) -> AsyncIterator[Callable]:
    """Start a server over the stand-in engine (`transcriber` unless another is given); its
    base URL."""
    started: list[ServedEngine] = []

    async def start(engine=None, **options) -> str:
        provider = LocalProvider(engine or transcriber, [synthesizer], slots=2)
        served = ServedEngine(provider, **options)
        await served.start()
        started.append(served)
        return served.base_url

    yield start
    for served in started:
        await served.close()


@pytest.fixture
async def base_url(serve) -> str:
    return await serve()


def upload(fields: dict | None = None, data: bytes = MEMO, name: str = "memo.ogg") -> dict:
    """The keyword arguments of a multipart request: `fields` (model whisper-1 unless given)
    and the file."""
    return {
        "data": {"model": "whisper-1"} | (fields or {}),
        "files": {"file": (name, data, "audio/ogg")},
    }


def openai_error(response: httpx.Response, status: int) -> dict:
    """The `error` object of an answer in OpenAI's error shape with `status`."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"message", "type", "param", "code"}
    return body["error"]


async def test_each_transcript_format_comes_in_openais_shape(http, base_url):
    async def asked(response_format: str, **fields) -> httpx.Response:
        response = await http.post(
            base_url + TRANSCRIPTIONS,
            headers=AUTHORIZED,
            **upload({"response_format": response_format} | fields),
        )
        assert response.status_code == 200, response.text
        return response

    async with LoopWatchdog():
        plain = await http.post(base_url + TRANSCRIPTIONS, headers=AUTHORIZED, **upload())
        as_json = await asked("json")
        text = await asked("text")
        srt = await asked("srt")
        vtt = await asked("vtt")
        verbose = await asked("verbose_json", **{"timestamp_granularities[]": ["word", "segment"]})
        segments_only = await asked("verbose_json")
    assert plain.json() == as_json.json() == {"text": "Meet me at the station. At nine."}
    assert text.text == "Meet me at the station. At nine.\n"
    assert srt.text == (
        "1\n00:00:00,000 --> 00:00:02,500\nMeet me at the station.\n\n"
        "2\n00:00:02,500 --> 00:00:04,000\nAt nine.\n"
    )
    assert vtt.headers["content-type"].startswith("text/vtt")
    assert vtt.text.startswith("WEBVTT\n\n00:00:00.000 --> 00:00:02.500\nMeet me at the station.")
    body = verbose.json()
    assert (body["task"], body["language"], body["text"]) == (
        "transcribe",
        "english",
        "Meet me at the station. At nine.",
    )
    assert body["duration"] == pytest.approx(2.0, abs=0.05)  # the upload's, as decoded
    assert body["segments"][1] == {
        "id": 1,
        "seek": 0,
        "start": 2.5,
        "end": 4.0,
        "text": " At nine.",
        "tokens": [],
        "temperature": 0.0,
        "avg_logprob": -0.3,
        "compression_ratio": 1.0,
        "no_speech_prob": 0.02,
    }
    assert body["words"][0] == {"word": " Meet", "start": 0.0, "end": 0.4}
    assert "segments" in segments_only.json() and "words" not in segments_only.json()


async def test_earshots_openai_provider_reads_the_whole_transcript(http, base_url, tmp_path):
    path = audio_samples.write(tmp_path, "memo.ogg", MEMO)
    transcript = await make_provider(http, base_url).transcribe(
        AudioUpload(path, "memo.ogg", "audio/ogg"), TranscriptionOptions()
    )
    assert (transcript.text, transcript.language) == (Scripted.heard.text, "english")
    assert transcript.segments == Scripted.heard.segments
    assert transcript.duration == pytest.approx(2.0, abs=0.05)


async def test_language_prompt_and_task_reach_the_engine(http, base_url, transcriber):
    fields = {"language": "de", "prompt": "Names: Ana, Bo.", "temperature": "0.2"}
    response = await http.post(base_url + TRANSCRIPTIONS, headers=AUTHORIZED, **upload(fields))
    assert response.status_code == 200, response.text
    translated = await http.post(
        base_url + TRANSLATIONS,
        headers=AUTHORIZED,
        **upload({"prompt": "In English.", "response_format": "verbose_json"}),
    )
    assert translated.json()["task"] == "translate"
    heard, translating = transcriber.jobs
    assert (heard.task, heard.language, heard.prompt) == ("transcribe", "de", "Names: Ana, Bo.")
    assert (translating.task, translating.language, translating.prompt) == (
        "translate",
        None,
        "In English.",
    )


class EnglishOnly(Scripted):
    """An English-only model (a `.en` size): no translation."""

    multilingual = False


async def test_translation_with_an_english_only_model_is_a_400_saying_so(http, serve):
    base_url = await serve(EnglishOnly())
    response = await http.post(base_url + TRANSLATIONS, headers=AUTHORIZED, **upload())
    error = openai_error(response, 400)
    assert (error["message"], error["code"]) == ("this server offers no translation", "unsupported")


@pytest.mark.parametrize(
    ("fields", "param", "words"),
    [
        ({"model": ""}, "model", "you must provide a model parameter"),
        ({"response_format": "xml"}, "response_format", "response_format must be one of json"),
        ({"response_format": "diarized_json"}, "response_format", "offers no diarized_json"),
        ({"stream": "true"}, "stream", "streaming is not offered by this server"),
        ({"timestamp_granularities[]": "word"}, "timestamp_granularities[]", "requires"),
        (
            {"timestamp_granularities[]": "sentence", "response_format": "verbose_json"},
            "timestamp_granularities[]",
            "takes segment and word",
        ),
        ({"language": "klingon"}, "language", "ISO-639-1 code such as en, not 'klingon'"),
    ],
)
async def test_a_field_the_api_refuses_is_a_400_naming_it(
    http, base_url, transcriber, fields, param, words
):
    response = await http.post(base_url + TRANSCRIPTIONS, headers=AUTHORIZED, **upload(fields))
    error = openai_error(response, 400)
    assert (error["type"], error["param"]) == ("invalid_request_error", param)
    assert words in error["message"]
    assert transcriber.jobs == []


async def test_a_form_without_a_file_or_not_multipart_is_a_400(http, base_url):
    no_file = await http.post(
        base_url + TRANSCRIPTIONS, headers=AUTHORIZED, files={"model": (None, "whisper-1")}
    )
    assert openai_error(no_file, 400)["param"] == "file"
    as_form = await http.post(
        base_url + TRANSCRIPTIONS, headers=AUTHORIZED, data={"model": "whisper-1"}
    )
    assert openai_error(as_form, 400)["message"] == "the request must be multipart/form-data"


async def test_a_malformed_or_endless_form_is_a_400(http, base_url):
    no_boundary = await http.post(
        base_url + TRANSCRIPTIONS,
        headers={**AUTHORIZED, "Content-Type": "multipart/form-data"},
        content=b"--x\r\nContent-Disposition: form-data; name=model\r\n\r\nwhisper-1\r\n--x--",
    )
    assert openai_error(no_boundary, 400)["message"] == "the multipart body is malformed"
    many = {f"field{n}": (None, "x") for n in range(MAX_FIELDS + 1)}
    endless = await http.post(base_url + TRANSCRIPTIONS, headers=AUTHORIZED, files=many)
    message = openai_error(endless, 400)["message"]
    assert message == f"a form of more than {MAX_FIELDS} fields is not taken"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "That file is empty."),
        (b"this is a text file, not a recording\n" * 20, "That file is not audio I can read."),
        (MEMO[: len(MEMO) // 2], "That audio file is damaged or incomplete"),
    ],
)
async def test_bad_audio_is_a_400_and_never_reaches_the_engine(
    http, base_url, transcriber, private_tmp, data, message
):
    response = await http.post(base_url + TRANSCRIPTIONS, headers=AUTHORIZED, **upload(data=data))
    error = openai_error(response, 400)
    assert error["param"] == "file" and error["message"].startswith(message)
    assert transcriber.jobs == []
    assert list(private_tmp.iterdir()) == []


async def test_an_upload_over_the_limit_is_a_413_and_leaves_nothing(
    http, serve, transcriber, private_tmp
):
    base_url = await serve(limits=Limits(max_upload_bytes=64 * 1024, max_audio_seconds=600))
    big = audio_samples.encode(30.0, "wav")
    response = await http.post(base_url + TRANSCRIPTIONS, headers=AUTHORIZED, **upload(data=big))
    error = openai_error(response, 413)
    assert (error["param"], error["code"]) == ("file", "file_too_large")
    assert error["message"] == "That file is too large: the limit is 0.1 MB."
    assert transcriber.jobs == []
    assert list(private_tmp.iterdir()) == []
    small = await http.post(base_url + TRANSCRIPTIONS, headers=AUTHORIZED, **upload())
    assert small.status_code == 200  # the connection and the server are fine after it


async def test_a_recording_over_the_longest_heard_is_a_400(http, serve, transcriber):
    base_url = await serve(limits=Limits(max_upload_bytes=1 << 20, max_audio_seconds=1.0))
    response = await http.post(base_url + TRANSCRIPTIONS, headers=AUTHORIZED, **upload())
    assert "the limit is 0:01" in openai_error(response, 400)["message"]
    assert transcriber.jobs == []


@pytest.mark.parametrize("path", [TRANSCRIPTIONS, SPEECH, "/v1/models"])
async def test_a_missing_or_wrong_key_is_a_401_that_never_echoes_it(http, base_url, path):
    def ask(headers: dict) -> object:
        if path == "/v1/models":
            return http.get(base_url + path, headers=headers)
        if path == SPEECH:
            body = {"model": "tts-1", "input": "Hello.", "voice": "alloy"}
            return http.post(base_url + path, headers=headers, json=body)
        return http.post(base_url + path, headers=headers, **upload())

    missing = openai_error(await ask({}), 401)
    assert (missing["message"], missing["code"]) == (MISSING_KEY, "invalid_api_key")
    wrong = await ask({"Authorization": "Bearer not-the-key-xyz"})
    assert openai_error(wrong, 401)["message"] == WRONG_KEY
    assert "not-the-key-xyz" not in wrong.text
    assert (await ask(AUTHORIZED)).status_code == 200


async def test_without_a_key_set_no_key_is_asked(http, serve):
    base_url = await serve(api_key=None)
    response = await http.post(base_url + TRANSCRIPTIONS, **upload())
    assert response.json() == {"text": "Meet me at the station. At nine."}


async def test_the_models_are_listed_in_openais_shape(http, base_url):
    response = await http.get(base_url + "/v1/models", headers=AUTHORIZED)
    body = response.json()
    assert body["object"] == "list"
    assert [model["id"] for model in body["data"]] == ["scripted", "earshot-speech"]
    assert all(
        model["object"] == "model" and model["owned_by"] == "earshot" and model["created"] > 0
        for model in body["data"]
    )


async def test_an_unknown_route_or_method_is_an_openai_error(http, base_url):
    assert openai_error(await http.get(base_url + "/v1/nowhere", headers=AUTHORIZED), 404)
    assert openai_error(await http.get(base_url + TRANSCRIPTIONS, headers=AUTHORIZED), 405)


SPEECH_TYPES = {
    "mp3": ("audio/mpeg", "mp3"),
    "opus": ("audio/ogg", "ogg"),
    "aac": ("audio/aac", "aac"),
    "flac": ("audio/flac", "flac"),
    "wav": ("audio/wav", "wav"),
    "pcm": ("audio/pcm", "s16le"),
}


async def test_speech_comes_in_every_format_with_its_content_type(http, base_url, tmp_path):
    async with LoopWatchdog():
        for response_format, (content_type, container) in SPEECH_TYPES.items():
            body = {
                "model": "tts-1",
                "input": "Every format speaks.",
                "voice": "alloy",
                "response_format": response_format,
            }
            response = await http.post(base_url + SPEECH, headers=AUTHORIZED, json=body)
            assert response.status_code == 200, response.text
            assert response.headers["content-type"] == content_type
            path = tmp_path / f"speech.{response_format}"
            path.write_bytes(response.content)
            raw_rate = 24_000 if response_format == "pcm" else None
            info = probe(path, raw_pcm_rate=raw_rate)
            assert (info.container, info.duration > 0.5) == (container, True)
    default = await http.post(
        base_url + SPEECH,
        headers=AUTHORIZED,
        json={"model": "tts-1", "input": "Mp3 unless asked.", "voice": "alloy"},
    )
    assert default.headers["content-type"] == "audio/mpeg"


async def test_openais_voices_speak_in_the_engines_first_and_speeds_stay_in_its_range(
    http, base_url, synthesizer
):
    async def speak(voice: str, speed: float) -> httpx.Response:
        body = {"model": "tts-1", "input": "Hello.", "voice": voice, "speed": speed}
        return await http.post(base_url + SPEECH, headers=AUTHORIZED, json=body)

    for voice, speed in (("alloy", 1.0), ("shimmer", 4.0), ("German", 0.25), (ENGLISH, 1.5)):
        assert (await speak(voice, speed)).status_code == 200
    first = synthesizer.voices[0]
    assert synthesizer.asked == [(first, 1.0), (first, 2.5), ("German", 0.5), (ENGLISH, 1.5)]


@pytest.mark.parametrize(
    ("change", "param", "words"),
    [
        ({"model": None}, "model", "you must provide a model parameter"),
        ({"input": ""}, "input", "input must be a non-empty string"),
        ({"input": "a" * 4097}, "input", "longer than 4096 characters"),
        ({"voice": "nobody"}, "voice", "voice must be one of OpenAI's (alloy"),
        ({"speed": 4.5}, "speed", "speed must be a number from 0.25 to 4.0"),
        ({"speed": "fast"}, "speed", "speed must be a number"),
        ({"response_format": "ogg"}, "response_format", "must be one of mp3, opus"),
    ],
)
async def test_a_speech_request_the_api_refuses_is_a_400_naming_the_field(
    http, base_url, synthesizer, change, param, words
):
    body = {"model": "tts-1", "input": "Hello.", "voice": "alloy"} | change
    body = {key: value for key, value in body.items() if value is not None}
    response = await http.post(base_url + SPEECH, headers=AUTHORIZED, json=body)
    error = openai_error(response, 400)
    assert error["param"] == param and words in error["message"]
    assert synthesizer.asked == []


async def test_a_speech_body_that_is_not_json_is_a_400(http, base_url):
    response = await http.post(base_url + SPEECH, headers=AUTHORIZED, content=b"{not json")
    assert openai_error(response, 400)["message"] == "the body must be JSON"


class Failing:
    """A transcriber whose inference fails, as CTranslate2 out of memory does."""

    model_name = "failing"
    multilingual = True

    def transcribe(self, path, job, on_text=None, stop=None):
        raise ProviderUnavailable("local Whisper inference failed: out of memory")


async def test_a_failing_engine_is_a_503_that_earshots_client_retries_then_reports(
    http, serve, tmp_path, caplog
):
    base_url = await serve(Failing())
    response = await http.post(base_url + TRANSCRIPTIONS, headers=AUTHORIZED, **upload())
    error = openai_error(response, 503)
    assert (error["type"], error["message"]) == ("server_error", "the speech engine is unavailable")
    assert "out of memory" in caplog.text  # for the operator, in the server's log
    path = audio_samples.write(tmp_path, "memo.ogg", MEMO)
    with pytest.raises(ProviderUnavailable, match="HTTP 503"):
        await make_provider(http, base_url).transcribe(
            AudioUpload(path, "memo.ogg", "audio/ogg"), TranscriptionOptions()
        )


class Broken:
    """A transcriber with a bug."""

    model_name = "broken"
    multilingual = True

    def transcribe(self, path, job, on_text=None, stop=None):
        raise KeyError("a bug")


@pytest.mark.log_errors("POST /v1/audio/transcriptions failed")
async def test_an_unexpected_error_is_a_500_in_openais_shape_and_logged(http, serve, caplog):
    base_url = await serve(Broken())
    response = await http.post(base_url + TRANSCRIPTIONS, headers=AUTHORIZED, **upload())
    error = openai_error(response, 500)
    assert error["message"] == "the server failed to answer"
    assert "a bug" not in response.text
    [logged] = [r for r in caplog.records if "POST /v1/audio/transcriptions failed" in r.message]
    assert logged.exc_info is not None


async def test_a_client_that_goes_away_stops_the_engine_and_leaves_nothing(serve, private_tmp):
    engine = Stubborn()
    base_url = await serve(engine)
    request = httpx.Request("POST", base_url + TRANSCRIPTIONS, headers=AUTHORIZED, **upload())
    client = httpx.AsyncClient(trust_env=False, timeout=30)
    asking = asyncio.create_task(client.send(request))
    assert await asyncio.to_thread(engine.started.wait, 10)
    assert len(list(private_tmp.iterdir())) == 1  # the upload's scratch directory
    asking.cancel()  # closes the connection
    await asyncio.gather(asking, return_exceptions=True)
    await client.aclose()
    assert await asyncio.to_thread(engine.stopped.wait, 10)
    async with asyncio.timeout(10):
        while list(private_tmp.iterdir()):  # noqa: ASYNC110 (removal runs in a worker thread)
            await asyncio.sleep(0.01)
