"""Snakemake's own linter finds nothing but the one finding the README explains.

Every rule runs in the project's virtual environment, installed from requirements-lock.txt
(the lock replaces a per-rule conda environment, see docs/workflow.md, "The stages"), so the
linter's "specify a conda environment or container" finding stays, and only that one.
"""

import re

SOFTWARE_LINT = "Specify a conda environment or container for each rule."


def test_the_workflow_linter_reports_only_the_software_environment(tmp_path, workflow_tools):
    workdir = workflow_tools.copy_workflow(tmp_path)
    done = workflow_tools.snakemake(workdir, "--lint")
    output = done.stdout + done.stderr
    titles = set(re.findall(r"^    \* (.+):$", output, flags=re.MULTILINE))
    assert titles == {SOFTWARE_LINT}, output[-3000:]
    assert not (workdir / "logs").exists()  # linting runs no job
