from polkacompute.cli.app import main

main()
