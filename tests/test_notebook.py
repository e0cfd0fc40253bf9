"""bench.run inside a real Jupyter kernel, as a student's notebook calls it: the notebook's
inline figures still show afterwards, and no native log line of the backend (TensorFlow's
"failed call to cuInit" and the rest) reaches the notebook as a red block."""

from __future__ import annotations

import pytest

from bench.common.native_logs import is_noise

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

CELLS = [
    "import matplotlib\nprint('backend before:', matplotlib.get_backend())",
    "import bench\n"
    "frame = bench.run('simple_cnn', dataset='digits', weights='none', limit=200,\n"
    "                  test_limit=100, epochs_scratch=1, batch_size=32, out='results')\n"
    "print('status:', frame['status'].tolist())",
    "import matplotlib.pyplot as plt\n"
    "print('backend after:', matplotlib.get_backend())\n"
    "plt.plot([1, 2, 3])\n"
    "plt.show()",
]


@pytest.mark.slow
def test_a_notebook_keeps_its_inline_figures_and_gets_no_native_log_lines(tmp_path, monkeypatch):
    # A kernel as Jupyter starts one: not with the Agg that `bench` commands run earlier in
    # this test session put in the environment for their own process.
    monkeypatch.delenv("MPLBACKEND", raising=False)
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
    client = nbclient.NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": tmp_path}}
    )
    client.execute()
    before, run, after = (cell.outputs for cell in notebook.cells)

    text = "".join(o.get("text", "") for o in run if o["output_type"] == "stream")
    assert "status: ['ok']" in text
    assert "written:" in text, "the ranked table and report.html were written"
    errors = [
        o["text"] for cells in (before, run, after) for o in cells if o.get("name") == "stderr"
    ]
    noise = [line for block in errors for line in block.splitlines() if is_noise(line)]
    assert not noise, f"native log lines reached the notebook: {noise[:3]}"

    backend = "module://matplotlib_inline.backend_inline"
    assert f"backend before: {backend}" in before[0]["text"]
    assert f"backend after: {backend}" in after[0]["text"], "bench.run changed the backend"
    shown = [o for o in after if o["output_type"] == "display_data"]
    assert shown and "image/png" in shown[0]["data"], "plt.show() showed no figure"
