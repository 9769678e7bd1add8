"""GitHub Actions expressions (`${{ ... }}`, `if:`) for the local workflow runner.

Supported: literals ('str', numbers, true/false/null), context paths (`github.event_name`,
`env.X`, `steps.id.outputs.x`, `a['b']`), `! == != < <= > >= && ||`, parentheses and the
functions always, success, failure, cancelled, contains, startsWith, endsWith, format, join,
toJSON, fromJSON. Comparison follows GitHub: strings compare case-insensitively, mixed
types compare as numbers. Anything else raises ExprError with a one-line message.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

_TOKEN = re.compile(
    r"\s*(?:(?P<num>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|0x[0-9a-fA-F]+)|'(?P<str>(?:[^']|'')*)'"
    r"|(?P<op>==|!=|<=|>=|&&|\|\||[!<>()\[\].,*])|(?P<name>[A-Za-z_][A-Za-z0-9_-]*))"
)
_EMBEDDED = re.compile(r"\$\{\{(.*?)\}\}", re.S)
STATUS_FUNCTIONS = ("always", "success", "failure", "cancelled")


class ExprError(ValueError):
    """An expression the runner cannot evaluate."""


def _tokens(text: str) -> list[tuple[str, Any]]:
    out, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise ExprError(f"cannot read the expression at '{text[pos:pos + 20]}'")
        pos = match.end()
        if match.group("num") is not None:
            raw = match.group("num")
            out.append(("lit", int(raw, 16) if raw.startswith("0x") else float(raw)))
        elif match.group("str") is not None:
            out.append(("lit", match.group("str").replace("''", "'")))
        elif match.group("op"):
            out.append(("op", match.group("op")))
        else:
            name = match.group("name")
            literal = {"true": True, "false": False, "null": None}
            out.append(("lit", literal[name]) if name in literal else ("name", name))
    return out


def to_str(value: Any) -> str:
    """How GitHub turns a value into text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def truthy(value: Any) -> bool:
    """false, 0, '', null are false; everything else (objects too) is true."""
    return value not in (None, False, 0, "") and value == value


def _number(value: Any) -> float:
    if value is None:
        return 0.0
    if isinstance(value, bool | int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip() or 0)
        except ValueError:
            return float("nan")
    return float("nan")


def _compare(op: str, a: Any, b: Any) -> bool:
    if isinstance(a, str) and isinstance(b, str):
        a, b = a.lower(), b.lower()
    elif type(a) is not type(b) or isinstance(a, bool):
        if isinstance(a, dict | list) or isinstance(b, dict | list):
            return (a is b) if op == "==" else (a is not b) if op == "!=" else False
        a, b = _number(a), _number(b)
    return {"==": a == b, "!=": a != b, "<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]


class _Parser:
    def __init__(self, text: str, contexts: dict, status: Callable[[str], bool]):
        self.tokens = _tokens(text)
        self.i = 0
        self.contexts = contexts
        self.status = status

    def peek(self) -> tuple[str, Any] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self, value: str | None = None) -> tuple[str, Any]:
        tok = self.peek()
        if tok is None or (value is not None and tok != ("op", value)):
            raise ExprError(f"expected '{value}'" if value else "unexpected end of expression")
        self.i += 1
        return tok

    def parse(self) -> Any:
        value = self.or_()
        if self.peek() is not None:
            raise ExprError(f"unexpected '{self.peek()[1]}'")
        return value

    def or_(self) -> Any:
        value = self.and_()
        while self.peek() == ("op", "||"):
            self.take()
            right = self.and_()
            value = value if truthy(value) else right
        return value

    def and_(self) -> Any:
        value = self.cmp()
        while self.peek() == ("op", "&&"):
            self.take()
            right = self.cmp()
            value = right if truthy(value) else value
        return value

    def cmp(self) -> Any:
        value = self.unary()
        while (tok := self.peek()) and tok[0] == "op" and tok[1] in ("==", "!=", "<", "<=", ">", ">="):
            self.take()
            value = _compare(tok[1], value, self.unary())
        return value

    def unary(self) -> Any:
        if self.peek() == ("op", "!"):
            self.take()
            return not truthy(self.unary())
        return self.postfix(self.primary())

    def primary(self) -> Any:
        kind, value = self.take()
        if kind == "lit":
            return value
        if (kind, value) == ("op", "("):
            inner = self.or_()
            self.take(")")
            return inner
        if kind != "name":
            raise ExprError(f"unexpected '{value}'")
        if self.peek() == ("op", "("):
            self.take()
            args = []
            while self.peek() != ("op", ")"):
                args.append(self.or_())
                if self.peek() == ("op", ","):
                    self.take()
            self.take(")")
            return self.call(value, args)
        if value not in self.contexts:
            raise ExprError(f"unknown context '{value}' (the local runner knows {', '.join(self.contexts)})")
        return self.contexts[value]

    def postfix(self, value: Any) -> Any:
        while (tok := self.peek()) in (("op", "."), ("op", "[")):
            self.take()
            if tok == ("op", "."):
                kind, key = self.take()
                if (kind, key) == ("op", "*"):
                    value = list(value.values()) if isinstance(value, dict) else []
                    continue
                if kind != "name":
                    raise ExprError(f"expected a property name after '.', got '{key}'")
            else:
                key = self.or_()
                self.take("]")
            if isinstance(value, dict):
                value = next((v for k, v in value.items() if str(k).lower() == str(key).lower()), None)
            elif isinstance(value, list) and isinstance(key, int | float):
                value = value[int(key)] if 0 <= int(key) < len(value) else None
            else:
                value = None
        return value

    def call(self, name: str, args: list) -> Any:
        lname = name.lower()
        if lname in STATUS_FUNCTIONS:
            return self.status(lname)
        if lname == "contains" and len(args) == 2:
            hay, needle = args
            if isinstance(hay, list):
                return any(_compare("==", item, needle) for item in hay)
            return to_str(needle).lower() in to_str(hay).lower()
        if lname == "startswith" and len(args) == 2:
            return to_str(args[0]).lower().startswith(to_str(args[1]).lower())
        if lname == "endswith" and len(args) == 2:
            return to_str(args[0]).lower().endswith(to_str(args[1]).lower())
        if lname == "format" and args:
            text = to_str(args[0])
            return re.sub(r"\{(\d+)\}", lambda m: to_str(args[1 + int(m.group(1))]), text)
        if lname == "join" and args:
            sep = to_str(args[1]) if len(args) > 1 else ","
            items = args[0] if isinstance(args[0], list) else [args[0]]
            return sep.join(to_str(i) for i in items)
        if lname == "tojson" and len(args) == 1:
            return json.dumps(args[0], indent=2)
        if lname == "fromjson" and len(args) == 1:
            return json.loads(to_str(args[0]))
        raise ExprError(f"function {name}() with {len(args)} argument(s) is not supported locally")


def _always_success(name: str) -> bool:
    return name in ("always", "success")


def evaluate(text: str, contexts: dict, status: Callable[[str], bool] = _always_success) -> Any:
    """Value of an expression (without the `${{ }}`)."""
    return _Parser(text, contexts, status).parse()


def interpolate(text: Any, contexts: dict) -> str:
    """Replace every `${{ expr }}` in text by its value as text."""
    return _EMBEDDED.sub(lambda m: to_str(evaluate(m.group(1), contexts)), to_str(text))


def condition(text: Any, contexts: dict, status: Callable[[str], bool]) -> bool:
    """An `if:` value: implicit `success() && (...)` unless it calls a status function."""
    if text is None:
        return status("success")
    if isinstance(text, bool | int | float):
        return truthy(text) and status("success")
    expr = str(text).strip()
    whole = re.fullmatch(r"\$\{\{(.*)\}\}", expr, re.S)
    expr = whole.group(1) if whole else expr
    value = evaluate(expr, contexts, status)
    names = {n.lower() for kind, n in _tokens(expr) if kind == "name"}
    if names & set(STATUS_FUNCTIONS):
        return truthy(value)
    return status("success") and truthy(value)
