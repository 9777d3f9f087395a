from napcompose.cli import run

run()
