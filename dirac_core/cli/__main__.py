from dirac_core.cli.app import main

main()
