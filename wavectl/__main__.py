from wavectl.cli import main

main()
