# PRISM: initialization -> training (a progressive run resumes from its per-sample checkpoint) -> retry.
# The algorithm prism-<variant> trains with the prism section updated by prism_variants[variant].

PRISM_DIR = f"results/{{object}}/{DATA_KEY}/prism-{{variant}}"
PRISM_ARGS = "--algorithm prism-{wildcards.variant} --measurements {input.measurements} --settings {params.prism:q}"


rule prism_init:
    input:
        measurements=MEASUREMENTS,
    output:
        f"{PRISM_DIR}/init.pt",
    params:
        prism=prism_settings,
        identity=prism_identity,
        code=algorithm_code("prism-init"),
    log:
        f"logs/prism_init/{{object}}/{DATA_KEY}-{{variant}}.log",
    benchmark:
        f"logs/benchmarks/prism_init/{{object}}/{DATA_KEY}-{{variant}}.tsv"
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
        prism=prism_settings,
        identity=prism_identity,
        code=algorithm_code("prism-train"),
        progress=f"{PRISM_DIR}/progress",
    log:
        f"logs/prism_train/{{object}}/{DATA_KEY}-{{variant}}.log",
    benchmark:
        f"logs/benchmarks/prism_train/{{object}}/{DATA_KEY}-{{variant}}.tsv"
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
        prism=prism_settings,
        identity=prism_identity,
        code=algorithm_code("prism-retry"),
    log:
        f"logs/prism_retry/{{object}}/{DATA_KEY}-{{variant}}.log",
    benchmark:
        f"logs/benchmarks/prism_retry/{{object}}/{DATA_KEY}-{{variant}}.tsv"
    threads: 1
    shell:
        f"python -m prism prism-retry {PRISM_ARGS} --checkpoint {{input.checkpoint}} --out {{output}} {TRACK} > {{log}} 2>&1"
