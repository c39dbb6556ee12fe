"""Where the fake serves: one 127.0.0.1 port for the REST API, the gateway and the CDN."""

from __future__ import annotations

API_PREFIX = "/api/v10"


class Address:
    """The fake's addresses, known once its server listens (``port`` is set by ``start``)."""

    def __init__(self) -> None:
        self.port: int | None = None

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``, where the CDN lives."""
        if self.port is None:
            raise RuntimeError("FakeDiscord.start() has not run")
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_base(self) -> str:
        """The value for ``discord.http.Route.BASE``."""
        return self.base_url + API_PREFIX

    @property
    def gateway_url(self) -> str:
        """The gateway address (without query; discord.py appends ``?v=10&encoding=json...``)."""
        return "ws" + self.base_url.removeprefix("http") + "/gateway"
