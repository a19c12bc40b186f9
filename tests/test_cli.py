from conftest import RecordingWriter

from prism.cli import ProgressPrinter


def test_progress_prints_a_step_when_its_image_arrives_and_forwards_everything(capsys):
    inner = RecordingWriter()
    printer = ProgressPrinter("sample", inner)
    printer.add_scalar("loss_new", 0.5, 0)
    printer.add_scalar("ssim", 0.25, 0)
    assert capsys.readouterr().err == ""
    printer.add_image("reconstruction", None, 0)
    assert capsys.readouterr().err == "sample 0: loss_new=0.5 ssim=0.25\n"
    printer.add_scalar("loss_new", 0.125, 1)
    printer.add_scalar(
        "loss_new", 0.0625, 2
    )  # a step without an image: printed when the next begins
    assert capsys.readouterr().err == "sample 1: loss_new=0.125\n"
    printer.flush()
    assert capsys.readouterr().err == "sample 2: loss_new=0.0625\n"
    assert inner.calls[2] == ("image", "reconstruction", 0) and len(inner.calls) == 5


def test_a_closing_tag_prints_its_step_at_once(capsys):
    printer = ProgressPrinter("fit", closing_tag="eta_s")
    printer.add_scalar("loss", 0.5, 100)
    assert capsys.readouterr().err == ""
    printer.add_scalar("eta_s", 12.0, 100)
    assert capsys.readouterr().err == "fit 100: loss=0.5 eta_s=12\n"
