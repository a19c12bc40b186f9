# Every registered solver that is not staged (ePIE, the framing references, any new method)
# runs as one job on the same measurement set as PRISM: `python -m prism reconstruct`.


rule reconstruct:
    input:
        measurements=MEASUREMENTS,
    output:
        f"{RUN_DIR}/reconstruction.npz",
    wildcard_constraints:
        algorithm=algorithm_pattern(staged=False),
    params:
        settings=lambda w: settings("algorithm", w.algorithm),
        identity=identity,
        code=algorithm_code("reconstruct"),
    log:
        f"logs/reconstruct/{{object}}/{DATA_KEY}-{{algorithm}}.log",
    benchmark:
        f"logs/benchmarks/reconstruct/{{object}}/{DATA_KEY}-{{algorithm}}.tsv"
    threads: 1
    shell:
        f"python -m prism reconstruct --algorithm {{wildcards.algorithm}} --measurements {{input.measurements}}"
        f" --settings {{params.settings:q}} --out {{output}} {TRACK} > {{log}} 2>&1"
