"""The `onboard90` console script: Django's management commands under one name, no tracebacks for users."""

import os
import sys


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "onboard90.settings")
    argv = list(sys.argv if argv is None else argv)
    argv[0] = "onboard90"
    import django
    from django.db import DatabaseError

    debug = os.environ.get("ONBOARD90_DEBUG") == "1" or "--traceback" in argv
    try:
        django.setup()
        from django.core.management import execute_from_command_line

        execute_from_command_line(argv)
    except BrokenPipeError:
        # The reader went away (`onboard90 tasks | head`): nothing more to say, and nothing to flush.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(0)
    except KeyboardInterrupt:
        print("已中断 / interrupted", file=sys.stderr)
        sys.exit(130)
    except DatabaseError as exc:
        if debug:
            raise
        print(f"数据库错误 / database error: {exc}", file=sys.stderr)
        print("提示: 先运行 `onboard90 init` 初始化数据库 / hint: run `onboard90 init` first", file=sys.stderr)
        sys.exit(1)
    except Exception as exc:  # the last line of defence: a user never sees a traceback
        if debug:
            raise
        print(f"错误 / error: {type(exc).__name__}: {exc}", file=sys.stderr)
        sys.exit(1)
