"""The one error of the template engine: an ARM error code and a message, as the REST error
body carries them ({"error": {"code": ..., "message": ...}})."""

from __future__ import annotations


class ArmError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def to_body(self) -> dict[str, dict[str, str]]:
        return {"error": {"code": self.code, "message": self.message}}
