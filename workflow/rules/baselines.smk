# The ePIE baseline and the two framing references, on the same measurement sets as PRISM.


rule epie:
    input:
        measurements=MEASUREMENTS,
    output:
        f"results/{{object}}/{DATA_KEY}/epie/reconstruction.npz",
    params:
        epie=as_json(config["epie"]),
        identity=lambda w: as_json(dict(w.items()) | {"algorithm": "epie"}),
    log:
        f"logs/epie/{{object}}/{DATA_KEY}.log",
    benchmark:
        f"logs/benchmarks/epie/{{object}}/{DATA_KEY}.tsv"
    threads: 1
    shell:
        f"python -m prism epie --measurements {{input.measurements}} --epie {{params.epie:q}} --out {{output}} {TRACK} > {{log}} 2>&1"


rule framing:
    input:
        measurements=MEASUREMENTS,
    output:
        f"results/{{object}}/{DATA_KEY}/{{kind}}/reconstruction.npz",
    wildcard_constraints:
        kind=r"single_aperture|synthetic_aperture",
    params:
        identity=lambda w: as_json({k: v for k, v in w.items() if k != "kind"} | {"algorithm": w.kind}),
    log:
        f"logs/framing/{{object}}/{DATA_KEY}-{{kind}}.log",
    threads: 1
    shell:
        f"python -m prism framing --measurements {{input.measurements}} --kind {{wildcards.kind}} --out {{output}} {TRACK} > {{log}} 2>&1"
