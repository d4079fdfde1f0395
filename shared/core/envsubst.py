"""Values that pass through Argo CD's ``Envsubst`` unchanged, and a faithful port of it to prove so.

Argo CD expands every ``spec.source.plugin.env`` value with Go's ``os.Expand`` before the CMP sees
it: ``$NAME``/``${NAME}`` become the value of another env entry (usually empty), ``${`` without a
closing brace is eaten, and only newer versions keep ``$$`` as ``$``. A commit subject such as
``WIP ${ unfinished`` would corrupt ``ARGOCD_ENV_FREIGHT``. So freight travels as JSON with no
``$`` at all: JSON may spell ``$`` as ``\\u0024``, which every ``Envsubst`` leaves alone and every
JSON reader decodes back. It is also bounded: ``Freight.to_json`` leaves commit messages and
authors out (the CMP needs none), and freight that would still exceed ``MAX_ENV_FREIGHT_BYTES`` is not put in the env
at all (the CMP then reads it from the state by ``FREIGHT_ID``, given ``FREIGHTYARD_STATE``).
"""

from __future__ import annotations

from collections.abc import Callable

MAX_ENV_FREIGHT_BYTES = 32 * 1024  # Linux caps one environment string at 128 KiB; stay far below
_SPECIAL = frozenset("*#$@!?-0123456789")


def env_safe(text: str) -> str:
    """``text`` (JSON) with every ``$`` written ``\\u0024``: unchanged by any Argo CD ``Envsubst``."""
    return text.replace("$", "\\u0024")


def freight_env_json(freight_json: str) -> str:
    """``Freight.to_json()`` (compact, no commit messages) made env-safe; "" when it would not fit."""
    text = env_safe(freight_json)
    return text if len(text.encode()) <= MAX_ENV_FREIGHT_BYTES else ""


def argocd_envsubst(text: str, env: dict[str, str], *, keep_double_dollar: bool = True) -> str:
    """What Argo CD's ``Env.Envsubst`` makes of ``text`` (``keep_double_dollar``: versions that map ``$$`` to ``$``)."""

    def mapping(name: str) -> str:
        if name == "$" and keep_double_dollar:
            return "$"
        return env.get(name, "")

    return go_os_expand(text, mapping)


def go_os_expand(s: str, mapping: Callable[[str], str]) -> str:
    """A line-for-line port of Go's ``os.Expand`` (byte-wise; ``$`` and braces are ASCII)."""
    buf: list[str] | None = None
    i = 0
    j = 0
    while j < len(s):
        if s[j] == "$" and j + 1 < len(s):
            if buf is None:
                buf = []
            buf.append(s[i:j])
            name, w = _shell_name(s[j + 1 :])
            if name == "" and w > 0:
                pass  # invalid syntax: the characters are eaten
            elif name == "":
                buf.append(s[j])  # "$" not followed by a name stays
            else:
                buf.append(mapping(name))
            j += w
            i = j + 1
        j += 1
    if buf is None:
        return s
    return "".join(buf) + s[i:]


def _shell_name(s: str) -> tuple[str, int]:
    if s[0] == "{":
        if len(s) > 2 and s[1] in _SPECIAL and s[2] == "}":
            return s[1:2], 3
        for k in range(1, len(s)):
            if s[k] == "}":
                if k == 1:
                    return "", 2  # "${}" is eaten
                return s[1:k], k + 1
        return "", 1  # "${" without "}" is eaten
    if s[0] in _SPECIAL:
        return s[0:1], 1
    k = 0
    while k < len(s) and (s[k] == "_" or (s[k].isascii() and s[k].isalnum())):
        k += 1
    return s[:k], k
