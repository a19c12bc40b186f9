# Score every reconstruction with the one metrics module, then summarize the study.


rule evaluate:
    input:
        measurements=MEASUREMENTS,
        reconstruction=f"{RUN_DIR}/reconstruction.npz",
    output:
        metrics=f"{RUN_DIR}/metrics.json",
        image=f"{RUN_DIR}/reconstruction.png",
    params:
        identity=identity,
    log:
        f"logs/evaluate/{{object}}/{DATA_KEY}-{{algorithm}}.log",
    threads: 1
    shell:
        f"python -m prism evaluate --measurements {{input.measurements}} --reconstruction {{input.reconstruction}}"
        f" --out-json {{output.metrics}} --out-png {{output.image}} {TRACK} > {{log}} 2>&1"


rule summarize:
    input:
        study_metrics(),
    output:
        table="results/summary.csv",
        figure="results/scores.png",
        metrics="metrics/study.json",
        curves="metrics/scores.csv",
    log:
        "logs/summarize.log",
    threads: 1
    shell:
        "python -m prism summarize --metrics {input} --out-csv {output.table} --out-png {output.figure}"
        " --out-metrics {output.metrics} --out-curves {output.curves} > {log} 2>&1"
