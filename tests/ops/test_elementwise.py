"""Parity of elementwise ops: arithmetic (all spellings, Python-number operands, torch's
type promotion), division rounding modes, comparisons, logic, where, unary math,
clamp and casts."""
import operator

import pytest
import torch

import graphnn
from graphnn.errors import ShapeError, UnsupportedError
from tests.parity_utils import CACHE_DIMS, Wrap, cache_shaped_inputs, export_checked, onnx_ops


def _floats(*shape, positive=False):
    x = torch.randn(*shape)
    return x.abs() + 0.5 if positive else x


def _divisors(*shape):
    """Magnitudes >= 0.5 of both signs."""
    return _floats(*shape, positive=True) * torch.where(torch.rand(shape) < 0.5, -1.0, 1.0)


def _ints(*shape, low=-9, high=10):
    return torch.randint(low, high, shape)


def _nonzero_ints(*shape):
    """Divisors of both signs; with a static batch, so the parity run keeps them nonzero."""
    x = torch.randint(1, 10, shape)
    return x * (-1) ** torch.arange(x.numel()).reshape(shape)


BINARY = {
    "add": lambda x, y: x + y, "torch.add": lambda x, y: torch.add(x, y),
    "add_alpha": lambda x, y: torch.add(x, y, alpha=2), "x.add": lambda x, y: x.add(y),
    "iadd": lambda x, y: operator.iadd(x.clone(), y),
    "sub": lambda x, y: x - y, "torch.sub": lambda x, y: torch.sub(x, y, alpha=0.5),
    "subtract": lambda x, y: torch.subtract(x, y), "x.sub": lambda x, y: x.sub(y),
    "mul": lambda x, y: x * y, "torch.mul": lambda x, y: torch.mul(x, y), "x.mul": lambda x, y: x.mul(y),
    "div": lambda x, y: x / y, "torch.div": lambda x, y: torch.div(x, y),
    "true_divide": lambda x, y: torch.true_divide(x, y), "x.div": lambda x, y: x.div(y),
    "floor_div_op": lambda x, y: x // y, "floor_divide": lambda x, y: torch.floor_divide(x, y),
    "div_floor": lambda x, y: torch.div(x, y, rounding_mode="floor"),
    "div_trunc": lambda x, y: x.div(y, rounding_mode="trunc"),
    "pow": lambda x, y: x.abs() ** y, "torch.pow": lambda x, y: torch.pow(x.abs(), y),
    "mod": lambda x, y: x % y, "remainder": lambda x, y: torch.remainder(x, y),
    "fmod": lambda x, y: torch.fmod(x, y),
    "maximum": lambda x, y: torch.maximum(x, y), "x.minimum": lambda x, y: x.minimum(y),
    "max_binary": lambda x, y: torch.max(x, y), "min_binary": lambda x, y: x.min(y),
}


@pytest.mark.parametrize("name", BINARY)
def test_binary_float(name):
    torch.manual_seed(0)
    export_checked(Wrap(BINARY[name]), (_floats(2, 3, 4), _divisors(2, 3, 4)))


@pytest.mark.parametrize("name", ["add", "sub", "mul", "floor_div_op", "div_floor", "div_trunc", "mod",
                                  "fmod", "maximum", "x.minimum", "div"])
def test_binary_int_with_negative_values(name):
    torch.manual_seed(0)
    export_checked(Wrap(BINARY[name]), (_ints(3, 5), _nonzero_ints(3, 5)), dynamic_batch=False)


def test_binary_broadcasts():
    torch.manual_seed(0)
    export_checked(Wrap(lambda x, y: x * y + y), (_floats(2, 3, 4), _floats(3, 1)))


SCALAR = {
    "x+2": lambda x: x + 2, "2-x": lambda x: 2 - x, "x*0.5": lambda x: x * 0.5, "3/x": lambda x: 3 / x,
    "x**2": lambda x: x ** 2, "2**x": lambda x: 2 ** x, "x%1.5": lambda x: x % 1.5,
    "x//0.7": lambda x: x // 0.7, "-1.5%x": lambda x: -1.5 % x,
}


@pytest.mark.parametrize("name", SCALAR)
def test_python_number_operands(name):
    torch.manual_seed(0)
    export_checked(Wrap(SCALAR[name]), _floats(2, 6))


PROMOTION = [  # (fn, inputs, output dtype)
    (lambda x: x * 0.5, (_ints(2, 3),), torch.float32),
    (lambda x, y: x + y, (_ints(2, 3), _floats(2, 3)), torch.float32),
    (lambda x, y: x / y, (_ints(2, 3), _ints(2, 3, low=1)), torch.float32),
    (lambda x: (x > 0) + 1, (_floats(2, 3),), torch.int64),
    (lambda x, y: x * y, (_ints(2, 3).int(), _ints(2, 3)), torch.int64),
    (lambda x, y: x.double() - y, (_floats(2, 3), _floats(2, 3)), torch.float64),
    (lambda x: x.int() + x.size(1), (_floats(2, 3) * 4,), torch.int32),
]


@pytest.mark.parametrize("fn, inputs, dtype", PROMOTION)
def test_type_promotion_follows_torch(fn, inputs, dtype):
    torch.manual_seed(0)
    assert fn(*inputs).dtype == dtype
    models = export_checked(Wrap(fn), inputs)
    assert models[18].graph.output[0].type.tensor_type.elem_type == {
        torch.float32: 1, torch.int64: 7, torch.int32: 6, torch.float64: 11}[dtype]


def test_int_times_float_casts_the_tensor():
    models = export_checked(Wrap(lambda x: x * 0.5), _ints(2, 3))
    assert onnx_ops(models[18]) == ["Cast", "Mul"]


COMPARISONS = {
    "eq": lambda x, y: x == y, "ne": lambda x, y: x != y, "lt": lambda x, y: x < y,
    "le": lambda x, y: x <= y, "gt": lambda x, y: x > y, "ge": lambda x, y: x >= y,
    "torch.eq": lambda x, y: torch.eq(x, y), "torch.ne": lambda x, y: torch.ne(x, y),
    "torch.lt": lambda x, y: torch.lt(x, y), "torch.le": lambda x, y: torch.le(x, y),
    "torch.gt": lambda x, y: torch.gt(x, y), "torch.ge": lambda x, y: torch.ge(x, y),
    "x.greater": lambda x, y: x.greater(y), "x.less_equal": lambda x, y: x.less_equal(y),
    "x.ne": lambda x, y: x.ne(y), "scalar": lambda x, y: x > 0.5,
}


@pytest.mark.parametrize("name", COMPARISONS)
def test_comparisons_give_bool(name):
    torch.manual_seed(0)
    x, y = _ints(2, 5, low=0, high=3), _ints(2, 5, low=0, high=3)
    export_checked(Wrap(COMPARISONS[name]), (x.float(), y.float()))


def test_ne_is_not_equal():
    models = export_checked(Wrap(lambda x, y: x != y), (_ints(2, 5), _ints(2, 5)))
    assert onnx_ops(models[18]) == ["Equal", "Not"]


LOGICAL = {
    "and": lambda x, y: torch.logical_and(x > 0, y > 0), "or": lambda x, y: (x > 0).logical_or(y > 0),
    "xor": lambda x, y: torch.logical_xor(x > 0, y), "not": lambda x, y: torch.logical_not(x),
    "&": lambda x, y: (x > 0) & (y > 0), "|": lambda x, y: (x > 0) | (y < 0),
    "^": lambda x, y: (x > 0) ^ (y < 0), "~": lambda x, y: ~(x > y),
}


@pytest.mark.parametrize("name", LOGICAL)
def test_logical(name):
    torch.manual_seed(0)
    export_checked(Wrap(LOGICAL[name]), (_floats(2, 5), _floats(2, 5)))


WHERE = {
    "tensors": lambda x, y: torch.where(x > y, x, y),
    "scalar": lambda x, y: torch.where(x > 0, x, 0.0),
    "scalars": lambda x, y: torch.where(x > 0, 1.0, -1.0),
    "method": lambda x, y: x.where(x > y, y),
    "int_and_float": lambda x, y: torch.where(x > 0, x.long(), y),
}


@pytest.mark.parametrize("name", WHERE)
def test_where(name):
    torch.manual_seed(0)
    export_checked(Wrap(WHERE[name]), (_floats(2, 5), _floats(2, 5)))


UNARY = {  # name: (fn, positive input)
    "neg": (lambda x: -x, False), "torch.neg": (lambda x: torch.neg(x), False),
    "abs": (lambda x: abs(x), False), "x.abs": (lambda x: x.abs(), False),
    "exp": (lambda x: torch.exp(x), False), "x.exp": (lambda x: x.exp(), False),
    "log": (lambda x: torch.log(x), True), "x.log": (lambda x: x.log(), True),
    "sqrt": (lambda x: torch.sqrt(x), True), "rsqrt": (lambda x: x.rsqrt(), True),
    "reciprocal": (lambda x: torch.reciprocal(x), True),
    "sin": (lambda x: torch.sin(x), False), "cos": (lambda x: x.cos(), False),
    "floor": (lambda x: torch.floor(x * 3), False), "ceil": (lambda x: (x * 3).ceil(), False),
    "round": (lambda x: torch.round(x * 3), False), "round_decimals": (lambda x: x.round(decimals=1), False),
    "sign": (lambda x: torch.sign(x), False), "erf": (lambda x: torch.erf(x), False),
    "special.erf": (lambda x: torch.special.erf(x), False),
    "exp_of_int": (lambda x: torch.exp(x.long()), False), "floor_of_int": (lambda x: torch.floor(x.long()), False),
}


@pytest.mark.parametrize("name", UNARY)
def test_unary(name):
    torch.manual_seed(0)
    fn, positive = UNARY[name]
    export_checked(Wrap(fn), _floats(2, 3, 4, positive=positive))


def test_round_is_half_to_even():
    export_checked(Wrap(lambda x: torch.round(x)), torch.tensor([[0.5, 1.5, 2.5, -0.5, -1.5, 2.4]]),
                   dynamic_batch=False)


CLAMP = {
    "both": lambda x: torch.clamp(x, -0.5, 0.5), "min": lambda x: x.clamp(min=0.0),
    "max": lambda x: x.clamp(max=0.2), "clip": lambda x: torch.clip(x, -1, 1),
    "clamp_min": lambda x: x.clamp_min(0.1), "torch.clamp_max": lambda x: torch.clamp_max(x, 0.1),
    "tensor_bounds": lambda x: x.clamp(x * 0.5, x.abs()), "int": lambda x: (x * 4).long().clamp(-2, 2),
    "int_float_bound": lambda x: (x * 4).long().clamp(min=0.5),
}


@pytest.mark.parametrize("name", CLAMP)
def test_clamp(name):
    torch.manual_seed(0)
    export_checked(Wrap(CLAMP[name]), _floats(2, 6))


def test_scalar_clamp_is_one_clip():
    models = export_checked(Wrap(lambda x: x.clamp(-0.5, 0.5)), _floats(2, 6))
    assert onnx_ops(models[13]) == ["Clip"]


CASTS = {
    "float": lambda x: (x * 4).long().float(), "double": lambda x: x.double(), "half": lambda x: x.half(),
    "long": lambda x: (x * 4).long(), "int": lambda x: (x * 4).int(), "bool": lambda x: x.bool(),
    "to_dtype": lambda x: x.to(torch.int64), "to_kwarg": lambda x: x.to(dtype=torch.float64),
    "to_device_dtype": lambda x: x.to("cpu", torch.int32), "to_other": lambda x: (x * 3).to(x.long()),
    "to_device": lambda x: x.to("cpu") + 1, "type": lambda x: x.type(torch.int64),
    "type_string": lambda x: x.type("torch.LongTensor"), "type_as": lambda x: x.type_as(x.long()),
}


@pytest.mark.parametrize("name", CASTS)
def test_casts(name):
    torch.manual_seed(0)
    export_checked(Wrap(CASTS[name]), _floats(2, 6) * 3, atol=1e-3)


def test_cast_is_one_node():
    models = export_checked(Wrap(lambda x: x.long()), _floats(2, 6))
    assert onnx_ops(models[18]) == ["Cast"]


def test_scalar_shape_arithmetic_stays_known():
    graph = graphnn.trace(Wrap(lambda x: x.view(x.size(0), x.size(1) * x.size(2) // 2, 2)), torch.randn(2, 3, 4))
    reshape = [n for n in graph.nodes() if n.op == "reshape"][0]
    assert graph.values[reshape.outputs[0]].shape == ("batch", 6, 2)


def test_broadcast_mismatch_is_a_shape_error():
    with pytest.raises(ShapeError, match=r"cannot broadcast shapes \(batch, 3\) and \(batch, 4\)"):
        graphnn.trace(Wrap(lambda x, y: x + y), (torch.randn(2, 3), torch.randn(2, 4)))


@pytest.mark.parametrize("fn", [
    lambda x: torch.where(x > 0),
    lambda x: x.long() & 3,
    lambda x: torch.div(x, 2, rounding_mode="ceil"),
])
def test_unsupported_forms(fn):
    with pytest.raises(UnsupportedError):
        graphnn.trace(Wrap(fn), torch.randn(2, 3))


@pytest.mark.parametrize("op, a, b, known", [
    ("mul", "seq", 2, "2*seq"), ("sub", "seq", 1, "seq-1"), ("add", "2*seq", 3, "2*seq+3"),
    ("floordiv", "2*seq", 2, "seq"), ("sub", "seq", "seq", 0), ("mul", 3, 4, 12), ("mul", "batch", "seq", "batch*seq"),
    ("add", "layer1.0_d1", 1, None),  # a fresh dim named after a node is no expression
])
def test_size_arithmetic_keeps_symbols(op, a, b, known):
    from graphnn.ops.elementwise import known_arithmetic
    assert known_arithmetic(op, a, b) == known


FUSED = {  # rule: what the ONNX file must hold
    "square": (lambda x: torch.square(x) + x.square(), "Pow"),
    "square_int": (lambda x: (x * 4).long().square().float(), "Pow"),
    "addcmul": (lambda x: torch.addcmul(x, x, x + 1, value=0.5), "Mul"),
    "addcmul_method": (lambda x: x.addcmul(x, x), "Mul"),
    "addcdiv": (lambda x: torch.addcdiv(x, x, x + 2, value=-2), "Div"),
}


@pytest.mark.parametrize("frontend", ["auto", "export"])
@pytest.mark.parametrize("name", FUSED)
def test_square_addcmul_addcdiv(name, frontend):
    fn, op_type = FUSED[name]
    models = export_checked(Wrap(fn), torch.randn(3, 5), frontend=frontend)
    assert op_type in onnx_ops(models[18])


def test_cache_mask_broadcasts_against_past_and_new_keys():
    """Bloom's alibi: scores over past + new keys (past_sequence_length+sequence_length) meet
    the mask over total_sequence_length: one size, by the cache convention."""
    def scores(x, mask, past):
        keys = torch.cat([past, x], 1)
        return x @ keys.transpose(1, 2) + mask[:, None, :].to(x.dtype)
    export_checked(Wrap(scores), cache_shaped_inputs(), dynamic_dims=CACHE_DIMS)
    with pytest.raises(ShapeError, match="cannot broadcast"):  # other names: nothing says they are one size
        graphnn.trace(Wrap(scores), cache_shaped_inputs(),
                      dynamic_dims=[{0: "batch", 1: "s"}, {0: "batch", 1: "t"}, {0: "batch", 1: "p"}])


def _unit(*shape):
    """Inside (-1, 1): the domain of asin, acos, atanh."""
    return torch.rand(*shape) * 1.8 - 0.9


MATH = {  # name: (fn, example inputs); both frontends (torch.export: aten.log1p, aten.logaddexp...)
    "log1p": (lambda x: torch.log1p(x), lambda: _floats(2, 5, positive=True) - 0.4),
    "x.log1p_tiny": (lambda x: (x * 1e-9).log1p() * 1e9, lambda: _floats(2, 5)),
    "expm1": (lambda x: torch.expm1(x), lambda: _floats(2, 5)),
    "special.expm1_tiny": (lambda x: torch.special.expm1(x * 1e-9) * 1e9, lambda: _floats(2, 5)),
    "logaddexp": (lambda x, y: torch.logaddexp(x, y * 30), lambda: (_floats(2, 5), _floats(2, 5))),
    "logaddexp2": (lambda x, y: x.logaddexp2(y), lambda: (_floats(2, 5), _floats(2, 5))),
    "xlogy": (lambda x, y: torch.xlogy(torch.relu(x), y), lambda: (_floats(2, 5), _floats(2, 5, positive=True))),
    "special.xlogy_number": (lambda x: torch.special.xlogy(2, x), lambda: _floats(2, 5, positive=True)),
    "log2": (lambda x: torch.log2(x), lambda: _floats(2, 5, positive=True)),
    "log10": (lambda x: x.log10(), lambda: _floats(2, 5, positive=True)),
    "exp2": (lambda x: torch.exp2(x * 3), lambda: _floats(2, 5)),
    "erfc": (lambda x: torch.erfc(x), lambda: _floats(2, 5)),
    "trunc": (lambda x: torch.trunc(x * 3), lambda: _floats(2, 5)),
    "frac": (lambda x: (x * 3).frac(), lambda: _floats(2, 5)),
    "hypot": (lambda x, y: torch.hypot(x, y), lambda: (_floats(2, 5), _floats(2, 5))),
    "lerp": (lambda x, y: torch.lerp(x, y, 0.3), lambda: (_floats(2, 5), _floats(2, 5))),
    "lerp_tensor_weight": (lambda x, y: x.lerp(y, torch.sigmoid(y)), lambda: (_floats(2, 5), _floats(2, 5))),
    "logit": (lambda x: torch.logit(torch.sigmoid(x)), lambda: _floats(2, 5)),
    "logit_eps": (lambda x: torch.logit(torch.sigmoid(x * 10), eps=1e-3), lambda: _floats(2, 5)),
    "expit": (lambda x: torch.special.expit(x), lambda: _floats(2, 5)),
    "atan2": (lambda y, x: torch.atan2(y, x), lambda: (_floats(2, 5), _floats(2, 5))),
    "tan": (lambda x: torch.tan(x), lambda: _unit(2, 5)),
    "asin": (lambda x: torch.asin(x), lambda: _unit(2, 5)),
    "acos": (lambda x: x.acos(), lambda: _unit(2, 5)),
    "atan": (lambda x: torch.atan(x), lambda: _floats(2, 5)),
    "sinh": (lambda x: torch.sinh(x), lambda: _floats(2, 5)),
    "cosh": (lambda x: x.cosh(), lambda: _floats(2, 5)),
    "asinh": (lambda x: torch.asinh(x), lambda: _floats(2, 5)),
    "acosh": (lambda x: torch.acosh(x), lambda: _floats(2, 5, positive=True) + 1),
    "atanh": (lambda x: torch.atanh(x), lambda: _unit(2, 5)),
    "isnan_isinf": (lambda x: torch.isnan(torch.log(x)) | x.isinf(), lambda: _floats(2, 5)),
    "isnan_of_int": (lambda x: torch.isnan(x.long()), lambda: _floats(2, 5)),
    "nan_to_num": (lambda x: torch.nan_to_num(torch.log(x), nan=-1.0), lambda: _floats(2, 5)),
    "soft_margin_loss": (lambda x, y: torch.nn.functional.soft_margin_loss(x, y.sign()),
                         lambda: (_floats(2, 5), _floats(2, 5))),
    "copysign": (lambda x, y: torch.copysign(x, y), lambda: (_floats(2, 5), _floats(2, 5))),
    "copysign_number_method": (lambda x: x.copysign(-0.0) + torch.copysign(x, 2), lambda: _floats(2, 5)),
    "copysign_int": (lambda x, y: torch.copysign((x * 3).long(), y), lambda: (_floats(2, 5), _floats(2, 5))),
    "signbit": (lambda x: torch.signbit(x).float() + torch.signbit((x * 3).long()).float(), lambda: _floats(2, 5)),
    "heaviside": (lambda x: torch.heaviside(x.round(), torch.tensor(0.5)), lambda: _floats(2, 5)),
    "heaviside_tensor_values": (lambda x, y: x.round().heaviside(y), lambda: (_floats(2, 5), _floats(2, 5))),
}


@pytest.mark.parametrize("frontend", ["auto", "export"])
@pytest.mark.parametrize("name", MATH)
def test_math_without_an_onnx_operator(name, frontend):
    torch.manual_seed(0)
    fn, example = MATH[name]
    export_checked(Wrap(fn), example(), frontend=frontend, atol=1e-5, rtol=1e-5)


def _run_file(fn, *inputs):
    import onnxruntime as ort
    from graphnn.backend.onnx import to_onnx
    model = to_onnx(graphnn.trace(Wrap(fn), inputs, dynamic_batch=False), 18)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {i.name: t.numpy() for i, t in zip(session.get_inputs(), inputs)})[0]


EDGES = {  # torch's values at infinities, -1, 0, NaN and tiny arguments
    "log1p": (torch.log1p, torch.tensor([[-1.0, 0.0, 1e-30, -1e-8, 3e-8, float("inf"), float("nan"), 5.0]])),
    "expm1": (torch.expm1, torch.tensor([[0.0, 1e-30, -1e-8, float("-inf"), float("inf"), -200.0, 100.0, 0.3]])),
    "nan_to_num": (torch.nan_to_num, torch.tensor([[float("nan"), float("inf"), float("-inf"), 1.5]])),
    "signbit_of_negative_zero": (torch.signbit, torch.tensor([[-0.0, 0.0, -1.0, 2.0, float("-inf"), float("inf")]])),
    "copysign_of_negative_zero": (lambda x: torch.copysign(torch.ones_like(x), x),
                                  torch.tensor([[-0.0, 0.0, -1.0, 2.0, float("-inf")]])),
}


@pytest.mark.parametrize("name", EDGES)
def test_math_at_the_edges_matches_torch_to_the_last_digit(name):
    fn, x = EDGES[name]
    torch.testing.assert_close(torch.from_numpy(_run_file(fn, x)), fn(x), equal_nan=True, rtol=2e-7, atol=0)


def test_logaddexp_and_xlogy_at_the_edges():
    inf, nan = float("inf"), float("nan")
    a = torch.tensor([[inf, -inf, inf, 0.0, 0.0, 0.0, 2.0]])
    b = torch.tensor([[inf, -inf, -inf, 0.0, nan, inf, 3.0]])
    torch.testing.assert_close(torch.from_numpy(_run_file(torch.logaddexp, a, b)), torch.logaddexp(a, b),
                               equal_nan=True)
    torch.testing.assert_close(torch.from_numpy(_run_file(torch.xlogy, a.clamp(0, 5), b)),
                               torch.xlogy(a.clamp(0, 5), b), equal_nan=True)
