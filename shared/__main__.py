from shared.cli import main

main(prog_name="zegel")
