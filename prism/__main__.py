"""``python -m prism <stage>``: every stage of the workflow (:mod:`prism.cli`)."""

from prism.cpu import pin_instruction_set

pin_instruction_set()  # before torch loads: it reads the variables then

from prism.cli import main  # noqa: E402

main()
