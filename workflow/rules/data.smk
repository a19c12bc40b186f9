# Prepare each object once, then simulate each measurement set once; every algorithm reads it.


rule prepare:
    input:
        image_source,
    output:
        PREPARED,
    params:
        source=source_argument,
        content=lambda w: source_hash(w.object),
        physics=settings("physics"),
        identity=identity,
        code=stage_code("prepare"),
    log:
        "logs/prepare/{object}.log",
    benchmark:
        "logs/benchmarks/prepare/{object}.tsv"
    threads: 1
    shell:
        f"python -m prism prepare --source {{params.source:q}} --out {{output}} --physics {{params.physics:q}} {TRACK} > {{log}} 2>&1"


rule simulate:
    input:
        prepared=PREPARED,
    output:
        MEASUREMENTS,
    params:
        pattern=lambda w: settings("pattern", w.pattern),
        noise=lambda w: settings("noise", w.noise),
        identity=identity,
        code=stage_code("simulate"),
    log:
        f"logs/simulate/{{object}}/{DATA_KEY}.log",
    benchmark:
        f"logs/benchmarks/simulate/{{object}}/{DATA_KEY}.tsv"
    threads: 1
    shell:
        f"python -m prism simulate --prepared {{input.prepared}} --out {{output}} --pattern {{params.pattern:q}} --noise {{params.noise:q}}"
        f" --n-samples {{wildcards.n_samples}} --seed {{wildcards.seed}} {TRACK} > {{log}} 2>&1"
