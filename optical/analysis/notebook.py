"""Running the parameterised notebooks: project root, parameter injection, execution, clean saving.

A notebook's first code cell is tagged ``parameters``; :func:`inject_parameters` adds a
cell right after it (tagged ``injected-parameters``, as papermill does) that rebinds
the given names, so the notebook runs unchanged with other settings.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["project_root", "use_root", "inject_parameters", "execute_notebook", "strip_outputs"]

INJECTED = "injected-parameters"


def project_root(start: str | Path | None = None) -> Path:
    """The nearest folder at or above ``start`` (default: the current one) holding both
    ``pyproject.toml`` and ``optical/``; ``start`` itself when there is none."""
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "pyproject.toml").is_file() and (folder / "optical").is_dir():
            return folder
    return here


def use_root(root: str | Path | None = None) -> Path:
    """Change into ``root`` (default: :func:`project_root`), so ``runs/`` and ``configs/``
    resolve the same wherever Jupyter was started; returns it."""
    folder = Path(root).resolve() if root else project_root()
    folder.mkdir(parents=True, exist_ok=True)
    os.chdir(folder)
    return folder


def _tags(cell: Any) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def inject_parameters(nb: Any, parameters: Mapping[str, Any]) -> Any:
    """Add (or replace) the ``injected-parameters`` cell after the ``parameters`` cell.

    Values are written with ``repr``, so they must be Python literals (str, numbers,
    bools, None, lists, dicts of those).
    """
    import nbformat

    cells = nb.cells
    where = next((i for i, c in enumerate(cells) if "parameters" in _tags(c)), None)
    if where is None:
        raise ValueError("the notebook has no cell tagged 'parameters'")
    source = "# Injected parameters\n" + "".join(f"{k} = {v!r}\n" for k, v in parameters.items())
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": [INJECTED]})
    if where + 1 < len(cells) and INJECTED in _tags(cells[where + 1]):
        cells[where + 1] = cell
    else:
        cells.insert(where + 1, cell)
    return nb


def strip_outputs(nb: Any) -> Any:
    """Drop outputs and execution counts (committed notebooks stay small)."""
    for cell in nb.cells:
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
        cell.get("metadata", {}).pop("execution", None)
    nb.metadata.pop("widgets", None)
    return nb


def execute_notebook(
    path: str | Path,
    parameters: Mapping[str, Any] | None = None,
    cwd: str | Path | None = None,
    timeout: int = 1800,
    kernel_name: str = "python3",
    save_to: str | Path | None = None,
) -> Any:
    """Execute a notebook top to bottom (with ``parameters`` injected) and return it.

    ``cwd`` is the kernel's working folder (default: the notebook's folder); ``save_to``
    writes the executed notebook (with outputs) there.
    """
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(str(path), as_version=4)
    if parameters:
        inject_parameters(nb, parameters)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name=kernel_name,
        resources={"metadata": {"path": str(cwd or Path(path).parent)}},
    )
    client.execute()
    if save_to is not None:
        nbformat.write(nb, str(save_to))
    return nb
