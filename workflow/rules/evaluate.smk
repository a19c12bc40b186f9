# Score every reconstruction with the one metrics module, then summarize the study.
CAPTIONS = "../report"
BASELINE = config["baseline"]  # what every method is compared with: best, or an algorithm


rule evaluate:
    input:
        measurements=MEASUREMENTS,
        reconstruction=f"{RUN_DIR}/reconstruction.npz",
    output:
        metrics=f"{RUN_DIR}/metrics.json",
        image=f"{RUN_DIR}/reconstruction.png",
    params:
        command=command(lambda job: job_commands(config, job)[-1]),
        code=stage_code("evaluate"),
    log:
        f"logs/evaluate/{{object}}/{DATA_KEY}-{{algorithm}}.log",
    benchmark:
        f"logs/benchmarks/evaluate/{{object}}/{DATA_KEY}-{{algorithm}}.tsv"
    threads: 1
    shell:
        f"python -m prism {{params.command}} {TRACK} > {{log}} 2>&1"


rule summarize:
    input:
        study_metrics(),
    output:
        table=report("results/summary.csv", caption=f"{CAPTIONS}/summary.rst", category="1 Results"),
        table_html=report("results/summary.html", caption=f"{CAPTIONS}/summary.rst", category="1 Results"),
        scores=report("results/scores.png", caption=f"{CAPTIONS}/scores.rst", category="1 Results"),
        gallery=report("results/gallery.png", caption=f"{CAPTIONS}/gallery.rst", category="1 Results"),
        coverage=report("results/coverage.png", caption=f"{CAPTIONS}/coverage.rst", category="2 Data"),
        curves=report(
            "results/learning_curves.png", caption=f"{CAPTIONS}/learning_curves.rst", category="3 PRISM"
        ),
        timing=report("results/timing.csv", caption=f"{CAPTIONS}/timing.rst", category="4 Cost"),
        methods=report("results/methods.csv", caption=f"{CAPTIONS}/methods.rst", category="1 Results"),
        versus=report(f"results/versus_{BASELINE}.png", caption=f"{CAPTIONS}/versus.rst", category="1 Results"),
        metrics="metrics/study.json",
        scores_csv="metrics/scores.csv",
    params:
        baseline=BASELINE,
        code=stage_code("summarize"),
    log:
        "logs/summarize.log",
    benchmark:
        "logs/benchmarks/summarize.tsv"
    threads: 1
    shell:
        "python -m prism summarize --metrics {input} --out-dir results --baseline {params.baseline}"
        " --out-metrics {output.metrics} --out-curves {output.scores_csv} > {log} 2>&1"
