# Prepare each object once, then simulate each measurement set once; every algorithm reads it.


rule prepare:
    input:
        image_source,
    output:
        PREPARED,
    params:
        command=command(lambda job: prepare_command(config, job, prepare_source(job["object"]))),
        content=lambda w: source_hash(w.object),
        code=stage_code("prepare"),
    log:
        "logs/prepare/{object}.log",
    benchmark:
        "logs/benchmarks/prepare/{object}.tsv"
    threads: 1
    shell:
        f"python -m prism {{params.command}} {TRACK} > {{log}} 2>&1"


rule simulate:
    input:
        prepared=PREPARED,
    output:
        MEASUREMENTS,
    params:
        command=command(lambda job: simulate_command(config, job)),
        code=stage_code("simulate"),
    log:
        f"logs/simulate/{{object}}/{DATA_KEY}.log",
    benchmark:
        f"logs/benchmarks/simulate/{{object}}/{DATA_KEY}.tsv"
    threads: 1
    shell:
        f"python -m prism {{params.command}} {TRACK} > {{log}} 2>&1"
