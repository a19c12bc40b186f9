# PRISM: initialization -> progressive training (resumes from its per-sample checkpoint) -> retry.
PRISM_DIR = f"results/{{object}}/{DATA_KEY}/prism-{{mode}}"
PRISM_ARGS = "--measurements {input.measurements} --prism {params.prism:q} --old-mode {wildcards.mode}"


def prism_identity(wildcards):
    """The reconstruction's identity: the mode wildcard becomes the algorithm name."""
    ids = {k: v for k, v in wildcards.items() if k != "mode"}
    return as_json(ids | {"algorithm": f"prism-{wildcards.mode}"})


rule prism_init:
    input:
        measurements=MEASUREMENTS,
    output:
        f"{PRISM_DIR}/init.pt",
    params:
        prism=as_json(config["prism"]),
        identity=prism_identity,
    log:
        f"logs/prism_init/{{object}}/{DATA_KEY}-{{mode}}.log",
    benchmark:
        f"logs/benchmarks/prism_init/{{object}}/{DATA_KEY}-{{mode}}.tsv"
    threads: 1
    shell:
        f"python -m prism prism-init {PRISM_ARGS} --out {{output}} {TRACK} > {{log}} 2>&1"


rule prism_train:
    input:
        measurements=MEASUREMENTS,
        checkpoint=f"{PRISM_DIR}/init.pt",
    output:
        f"{PRISM_DIR}/train.pt",
    params:
        prism=as_json(config["prism"]),
        identity=prism_identity,
        progress=f"{PRISM_DIR}/progress",
    log:
        f"logs/prism_train/{{object}}/{DATA_KEY}-{{mode}}.log",
    benchmark:
        f"logs/benchmarks/prism_train/{{object}}/{DATA_KEY}-{{mode}}.tsv"
    threads: 1
    shell:
        f"python -m prism prism-train {PRISM_ARGS} --checkpoint {{input.checkpoint}} --progress-dir {{params.progress}}"
        f" --out {{output}} {TRACK} > {{log}} 2>&1"


rule prism_retry:
    input:
        measurements=MEASUREMENTS,
        checkpoint=f"{PRISM_DIR}/train.pt",
    output:
        f"{PRISM_DIR}/reconstruction.npz",
    params:
        prism=as_json(config["prism"]),
        identity=prism_identity,
    log:
        f"logs/prism_retry/{{object}}/{DATA_KEY}-{{mode}}.log",
    benchmark:
        f"logs/benchmarks/prism_retry/{{object}}/{DATA_KEY}-{{mode}}.tsv"
    threads: 1
    shell:
        f"python -m prism prism-retry {PRISM_ARGS} --checkpoint {{input.checkpoint}} --out {{output}} {TRACK} > {{log}} 2>&1"
