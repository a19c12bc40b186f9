# Every registered solver's steps, from one template: a solver of one step (reconstruct)
# writes the reconstruction; a solver of several (PRISM: init -> train -> retry) writes
# <step>.pt for the next, the last the reconstruction. The commands come from prism.study.


def step_rule_command(index):
    return command(lambda job: job_commands(config, job)[index])


for solver in registry().values():
    for index, step in enumerate(solver.steps):

        rule:
            name:
                f"{solver.name}_{step}"
            input:
                measurements=MEASUREMENTS,
                checkpoint=[f"{RUN_DIR}/{solver.steps[index - 1]}.pt"] if index else [],
            output:
                f"{RUN_DIR}/{step}.pt" if index < len(solver.steps) - 1 else f"{RUN_DIR}/reconstruction.npz",
            wildcard_constraints:
                algorithm=algorithm_pattern(solver),
            params:
                command=step_rule_command(index),
                code=algorithm_code,
            log:
                f"logs/{solver.name}_{step}/{{object}}/{DATA_KEY}-{{algorithm}}.log",
            benchmark:
                f"logs/benchmarks/{solver.name}_{step}/{{object}}/{DATA_KEY}-{{algorithm}}.tsv"
            threads: 1
            shell:
                f"python -m prism {{params.command}} {TRACK} > {{log}} 2>&1"
