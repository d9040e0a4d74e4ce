from mlpx.cli import main

main()
