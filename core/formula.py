"""Custom activation formulas typed by students, e.g. "x * sigmoid(1.5*x)" or "exp(-x^2)".

The text is parsed with `ast` and checked against a whitelist; it is never evaluated as Python.
Each allowed node becomes a small closure over torch operations, so autograd differentiates the
result like any other torch code.

Rules a student sees:
- the variable is `x`; constants are numbers, `pi` and `e`;
- operators: + - * / and power, written `^` or `**` (`^` means power, as in maths, so
  `-x^2` is -(x^2)); an exponent may not itself contain a power and a numeric exponent is
  at most 100 in size, so nothing like 9^9^9 can blow up;
- functions of one argument: see UNARY; `min(a, b)` and `max(a, b)` (element-wise);
  `clamp(v, low, high)`; `where(condition, a, b)` whose condition compares with < <= > >= == !=.
"""

import ast
import functools
import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from mlp_studio.core.errors import SpecError
from mlp_studio.core.text import terminal_safe
from torch import Tensor

Fn = Callable[[Tensor], Tensor]

MAX_LENGTH = 200
MAX_DEPTH = 30
MAX_NUMBER = 1e6
MAX_EXPONENT = 100.0

UNARY: dict[str, Fn] = {
    "sin": torch.sin,
    "cos": torch.cos,
    "tan": torch.tan,
    "exp": torch.exp,
    "log": torch.log,
    "sqrt": torch.sqrt,
    "abs": torch.abs,
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "relu": torch.relu,
    "softplus": F.softplus,
    "erf": torch.erf,
}
BINARY: dict[str, Callable[[Tensor, Tensor], Tensor]] = {
    "min": torch.minimum,
    "max": torch.maximum,
}
CONSTANTS = {"pi": math.pi, "e": math.e}
OPERATORS: dict[type, Callable[[Tensor, Tensor], Tensor]] = {
    ast.Add: torch.add,
    ast.Sub: torch.sub,
    ast.Mult: torch.mul,
    ast.Div: torch.div,
    ast.Pow: torch.pow,
}
COMPARISONS: dict[type, Callable[[Tensor, Tensor], Tensor]] = {
    ast.Lt: torch.lt,
    ast.LtE: torch.le,
    ast.Gt: torch.gt,
    ast.GtE: torch.ge,
    ast.Eq: torch.eq,
    ast.NotEq: torch.ne,
}
FUNCTIONS = (*UNARY, "min", "max", "clamp", "where")
ALLOWED = (
    "Allowed: x, numbers, pi, e, + - * / ^ (power), and the functions "
    + ", ".join(UNARY)
    + ", min(a, b), max(a, b), clamp(v, low, high), where(condition, a, b)."
)


def _where(text: str, offset: int | None) -> str:
    """Where a syntax error is, in the text as typed. Python counts in the text with '^'
    turned into '**', from 1, and says 0 (or nothing) when the text ended too early."""
    parsed = 0
    for i, char in enumerate(text):
        parsed += 2 if char == "^" else 1
        if offset and parsed >= offset:
            return f"at character {i + 1}, '{char}'"
    return "it ends too early: an operator needs a right-hand side, a bracket its pair"


def parse_formula(text: str) -> Fn:
    """Turn a formula in x into a function of a tensor; the result always has x's shape.

    Raises SpecError saying what is not allowed and what is.
    """
    text = text.strip()
    if not text:
        raise SpecError("The formula is empty: type an expression in x, e.g. x * sigmoid(x).")
    if len(text) > MAX_LENGTH:
        raise SpecError(f"The formula has {len(text)} characters: keep it under {MAX_LENGTH}.")
    _check_characters(text)
    try:
        # '^' has no other meaning here (no strings are allowed), so it can become '**'.
        tree = ast.parse(text.replace("^", "**"), mode="eval")
    except SyntaxError as err:
        raise SpecError(
            f"The formula '{text}' cannot be read ({_where(text, err.offset)}): "
            "check brackets, operators and commas."
        ) from None
    fn = _compile(tree.body, 1)
    if any(isinstance(n, ast.Name) and n.id == "x" for n in ast.walk(tree)):
        return fn  # x broadcasts against the 0-d constants, so the result has x's shape
    # Without x the result is a 0-d constant; expand it so "1" behaves like ones_like(x).
    return lambda x: fn(x).expand_as(x).contiguous()


def _check_characters(text: str) -> None:
    """Formulas are plain ASCII. Anything else (a lone surrogate from undecodable bytes cannot
    even be handed to the parser, an escape sequence would garble a terminal) is named, escaped."""
    for position, char in enumerate(text, start=1):
        if not (" " <= char <= "~" or char == "\t"):
            raise SpecError(
                f"The formula has the character '{terminal_safe(char)}' at position {position}: "
                "formulas use only plain ASCII letters, digits, spaces and "
                "+ - * / ^ ( ) . , < > = !"
            )


def _reject(what: str) -> SpecError:
    return SpecError(f"{what} is not allowed in a formula. {ALLOWED}")


def _compile(node: ast.expr, depth: int) -> Fn:
    """Build a closure for one AST node, checking it against the whitelist."""
    if depth > MAX_DEPTH:
        raise SpecError(f"The formula is nested too deeply: keep it under {MAX_DEPTH} levels.")
    if isinstance(node, ast.Constant):
        return _constant(_number(node.value))
    if isinstance(node, ast.Name):
        if node.id == "x":
            return lambda x: x
        if node.id in CONSTANTS:
            return _constant(CONSTANTS[node.id])
        raise SpecError(
            f"Unknown name '{node.id}': the only variable is x and the constants are pi and e. "
            + ALLOWED
        )
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        inner = _compile(node.operand, depth + 1)
        if isinstance(node.op, ast.UAdd):
            return inner
        return lambda x: torch.neg(inner(x))
    if isinstance(node, ast.BinOp) and type(node.op) in OPERATORS:
        if isinstance(node.op, ast.Pow):
            _check_exponent(node.right)
        op = OPERATORS[type(node.op)]
        left, right = _compile(node.left, depth + 1), _compile(node.right, depth + 1)
        return lambda x: op(left(x), right(x))
    if isinstance(node, ast.Call):
        return _call(node, depth)
    if isinstance(node, ast.Compare):
        raise SpecError(
            "A comparison like x > 0 can only be the first argument of where(), "
            "e.g. where(x > 0, x, 0.01*x)."
        )
    raise _reject(_describe(node))


def _constant(value: float) -> Fn:
    # A 0-d tensor broadcasts against x and follows its dtype and device.
    return lambda x: x.new_full((), value)


def _number(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _reject(f"The value {value!r}")
    if not abs(value) <= MAX_NUMBER:  # also catches nan and inf (e.g. 1e999)
        raise SpecError(f"A number in the formula is too large: use at most {MAX_NUMBER:,.0f}.")
    return float(value)


def _check_exponent(node: ast.expr) -> None:
    """Refuse exponents that only exist to blow up, like 9^9^9 or x^1000."""
    if any(isinstance(n, ast.BinOp) and isinstance(n.op, ast.Pow) for n in ast.walk(node)):
        raise SpecError("A power inside an exponent (like 9^9^9) is not allowed in a formula.")
    value = node.operand if isinstance(node, ast.UnaryOp) else node
    if isinstance(value, ast.Constant) and isinstance(value.value, (int, float)):
        if abs(value.value) > MAX_EXPONENT:
            raise SpecError(
                f"The exponent {value.value} is too large: use exponents up to {MAX_EXPONENT:g}."
            )


def _call(node: ast.Call, depth: int) -> Fn:
    if not isinstance(node.func, ast.Name):
        raise _reject(f"Calling '{ast.unparse(node.func)}'")
    name = node.func.id
    if name not in FUNCTIONS:
        raise SpecError(f"Unknown function '{name}'. {ALLOWED}")
    if node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
        raise SpecError(f"{name}() takes plain arguments only, e.g. {name}(x, ...).")
    wanted = 1 if name in UNARY else 2 if name in BINARY else 3
    if len(node.args) != wanted:
        raise SpecError(f"{name}() takes {wanted} argument(s), not {len(node.args)}.")
    if name == "where":
        test = _condition(node.args[0], depth + 1)
        a, b = (_compile(arg, depth + 1) for arg in node.args[1:])
        return lambda x: torch.where(test(x), a(x), b(x))
    args = [_compile(arg, depth + 1) for arg in node.args]
    if name in UNARY:
        fn, (a,) = UNARY[name], args
        return lambda x: fn(a(x))
    if name in BINARY:
        fn2, (a, b) = BINARY[name], args
        return lambda x: fn2(a(x), b(x))
    v, low, high = args  # clamp
    return lambda x: torch.minimum(torch.maximum(v(x), low(x)), high(x))


def _condition(node: ast.expr, depth: int) -> Fn:
    """The test of where(): a comparison, possibly chained like 0 < x < 1."""
    if not isinstance(node, ast.Compare):
        raise SpecError("The first argument of where() must be a comparison, e.g. x > 0.")
    if not all(type(op) in COMPARISONS for op in node.ops):
        raise SpecError("where() conditions compare with < <= > >= == or != only.")
    terms = [_compile(t, depth + 1) for t in (node.left, *node.comparators)]
    ops = [COMPARISONS[type(op)] for op in node.ops]

    def test(x: Tensor) -> Tensor:
        values = [t(x) for t in terms]
        checks = [op(a, b) for op, a, b in zip(ops, values, values[1:], strict=False)]
        return functools.reduce(torch.logical_and, checks)

    return test


def _describe(node: ast.AST) -> str:
    """Name the offending construct in words a student recognises."""
    if isinstance(node, ast.Attribute):
        return f"An attribute like '.{node.attr}'"
    if isinstance(node, ast.Lambda):
        return "lambda"
    if isinstance(node, ast.Subscript):
        return "Indexing with [ ]"
    if isinstance(node, (ast.List, ast.Tuple, ast.Set, ast.Dict)):
        return f"A {type(node).__name__.lower()}"
    if isinstance(node, ast.BinOp):
        return f"The operator in '{ast.unparse(node)}'"
    return f"'{ast.unparse(node)}'"
