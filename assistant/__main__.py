from assistant import paths

paths.fixes_at_import = True  # the flows' words with the person's local fixes (before import)

from assistant.cli import main  # noqa: E402

main()
