"""The Triton scan's host path (scan_triton's plans, one-buffer outputs, the backward's partials) on the CPU,
through Triton's interpreter: skipped where Triton does not import, and on CUDA machines (the CUDA tests in
test_scan_triton.py run the same code compiled; on the lent H200, Triton 3.6's interpreter failed under its
NumPy 2.5.2: "only 0-dimensional arrays can be converted to Python scalars" at a loop over a kernel argument).

Triton's interpreter is chosen when scan_triton is first imported (TRITON_INTERPRET=1), so the checks run
in one subprocess of their own (a few seconds: small shapes)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

pytest.importorskip("triton")
pytestmark = pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA: test_scan_triton.py runs these paths compiled")
_INTERPRETER_VS_NUMPY = "only 0-dimensional arrays can be converted to Python scalars"

_CHECKS = r'''
import torch
import forecaster.mamba.scan_triton as st
from forecaster.mamba import selective_scan_ref
from test_scan import _inputs, _rel, _run

L = st.Launch(chunk=4, fwd_block_d=4, fwd_warps=1, bwd_block_d=2, bwd_warps=1, widen_16bit=False)
scan = lambda **kw: st.selective_scan_triton(**kw, launch=L)


def against_oracle(ref, softplus, fast=None, tol=1e-5):
    fast = fast or {k: (None if v is None else v.detach().float().requires_grad_()) for k, v in ref.items()}
    y0, h0, g0 = _run(selective_scan_ref, ref, softplus)
    y1, h1, g1 = _run(scan, fast, softplus)
    assert set(g1) == set(g0), (set(g1), set(g0))
    errors = {"out": _rel(y1, y0), "final state": _rel(h1, h0), **{k: _rel(g1[k], g0[k]) for k in g0}}
    assert max(errors.values()) < tol, errors


# every optional input (z, D, delta_bias, initial state: du, d delta, dz in one buffer; dh0 apart)
ref = _inputs(2, 11, 5, 3, softplus=True, seed=1)
against_oracle(ref, True)
# none of them, and no softplus
ref = _inputs(2, 9, 5, 4, softplus=False, seed=2)
for k in ("D", "z", "delta_bias", "initial_state"):
    ref[k] = None
against_oracle(ref, False)
# u, delta, z of different dtypes: their gradients in buffers of their own
ref = _inputs(1, 7, 3, 2, softplus=True, seed=3)
fast = {k: (None if v is None else v.detach().float().requires_grad_()) for k, v in ref.items()}
fast["delta"] = ref["delta"].detach().to(torch.bfloat16).requires_grad_()
y, h, g = _run(scan, fast, True)
assert g["delta"].dtype == torch.bfloat16 and g["u"].dtype == torch.float32 and g["z"].dtype == torch.float32
y1, h1, g1 = _run(scan, {k: (None if v is None else v.detach().float().requires_grad_()) for k, v in fast.items()}, True)
assert _rel(g["u"], g1["u"]) < 1e-5 and _rel(g["delta"].float(), g1["delta"]) < 2e-2

# a repeated call reuses its plan and gives the same numbers bit for bit; another shape adds a plan
st._PLANS.clear()
t = {k: (None if v is None else v.detach().float().requires_grad_()) for k, v in _inputs(2, 13, 6, 3, True, seed=4).items()}
first = _run(scan, t, True)
plans = len(st._PLANS)
second = _run(scan, t, True)
assert len(st._PLANS) == plans
assert torch.equal(first[0], second[0]) and all(torch.equal(first[2][k], second[2][k]) for k in first[2])
_run(scan, {k: (None if v is None else v[:1].detach().requires_grad_()) if k not in ("A", "D", "delta_bias")
            else v for k, v in t.items()}, True)
assert len(st._PLANS) > plans

# out alone (no final state asked for): the same out and gradients as with the final state unused
t = {k: (None if v is None else v.detach().float().requires_grad_()) for k, v in _inputs(2, 10, 4, 3, True, seed=5).items()}
names = [k for k, v in t.items() if v is not None]
out = scan(**t, delta_softplus=True)
assert isinstance(out, torch.Tensor)
g_alone = torch.autograd.grad(out.sum(), [t[k] for k in names])
out2, _h = scan(**t, delta_softplus=True, return_final_state=True)
g_with = torch.autograd.grad(out2.sum(), [t[k] for k in names])
assert torch.equal(out, out2) and all(torch.equal(a, b) for a, b in zip(g_alone, g_with))

# no grad: the same out and final state
with torch.no_grad():
    y_ng, h_ng = scan(**t, delta_softplus=True, return_final_state=True)
assert torch.equal(y_ng, out2) and torch.equal(h_ng, _h)

# double backward is refused with a message, not computed wrong
out = scan(**t, delta_softplus=True)
try:
    torch.autograd.grad(out.sum(), t["u"], create_graph=True)
except RuntimeError as e:
    assert "double backward" in str(e)
else:
    raise AssertionError("create_graph=True did not raise")
print("ok")
'''


def test_host_path_under_the_triton_interpreter():
    root = Path(__file__).resolve().parents[2]
    env = dict(os.environ, TRITON_INTERPRET="1", PYTHONPATH=os.pathsep.join(
        [str(root), str(root / "tests" / "mamba"), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run([sys.executable, "-c", _CHECKS], env=env, capture_output=True, text=True, timeout=240)
    if proc.returncode and _INTERPRETER_VS_NUMPY in proc.stderr:
        pytest.skip("Triton's interpreter does not run under this NumPy (it converts 1-element arrays with int())")
    assert proc.returncode == 0 and proc.stdout.strip().endswith("ok"), proc.stderr[-3000:]
