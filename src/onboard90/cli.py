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
        hint = database_hint(str(exc))
        if hint:
            print(f"提示 / hint: {hint}", file=sys.stderr)
        sys.exit(1)
    except Exception as exc:  # the last line of defence: a user never sees a traceback
        if debug:
            raise
        print(f"错误 / error: {type(exc).__name__}: {exc}", file=sys.stderr)
        sys.exit(1)


def database_hint(message: str) -> str:
    """What a user can do about a database error, told apart by the driver's message ('' when unknown)."""
    text = message.lower()
    if "database" in text and "does not exist" in text:  # PostgreSQL: the server answers, the database is not there
        return ("DATABASE_URL 指向的数据库不存在，请先创建 (createdb <名称>) 再运行 onboard90 init"
                " / the database named by DATABASE_URL does not exist: create it (createdb <name>), then run `onboard90 init`")
    if "connection" in text or "could not connect" in text or "unable to open database file" in text:
        return ("无法连接数据库，请检查 DATABASE_URL 与数据库服务"
                " / cannot reach the database: check DATABASE_URL and that the server is running")
    if "no such table" in text or ("relation" in text and "does not exist" in text):
        return "先运行 `onboard90 init` 初始化数据库 / run `onboard90 init` first"
    return ""
