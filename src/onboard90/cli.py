"""The `onboard90` console script: Django's management commands under one name, no tracebacks for users."""

import contextlib
import os
import sys

import django
from django.core.management import execute_from_command_line, get_commands, load_command_class
from django.db import DatabaseError


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "onboard90.settings")
    argv = list(sys.argv if argv is None else argv)
    argv[0] = "onboard90"

    debug = os.environ.get("ONBOARD90_DEBUG") == "1" or "--traceback" in argv
    try:
        django.setup()

        words = argv[1:]
        if not words or words[0] in ("help", "--help", "-h") and len(words) == 1:
            sys.stdout.write(usage())
            return
        if words[0] == "django":  # Django's own commands, for IT (migrate, createsuperuser, shell, …)
            argv = [argv[0], *words[1:]]
        elif words[0] in GUARDED:
            print(
                f"错误 / error: {words[0]!r} 是 Django 的维护命令，会改动或清空数据库，须写成 onboard90 django "
                f"{words[0]} / {words[0]!r} is a Django maintenance command that changes or empties the database: "
                f"type `onboard90 django {words[0]}` if you mean it",
                file=sys.stderr,
            )
            sys.exit(2)
        with simulated_clock(words[0] if words else ""):
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


# Django's commands that empty, overwrite or generate things: never one typo away from an operator's prompt.
GUARDED = frozenset({
    "flush", "sqlflush", "loaddata", "testserver", "makemigrations", "squashmigrations", "optimizemigration",
    "startapp", "startproject",
})


def own_commands() -> dict[str, str]:
    """{command: the app that provides it} for onboard90's own commands (not Django's or other packages')."""
    return {name: app for name, app in get_commands().items() if app.startswith("onboard90")}


def usage() -> str:
    """`onboard90 --help`: onboard90's commands with their one-line help; Django's stay behind `django`."""
    lines = [
        "onboard90 — 3G客户入网导入期服务系统 / the 90-day onboarding plan, run every day",
        "",
        "用法 / usage: onboard90 <命令 command> [参数 options]   (onboard90 <command> --help for its options)",
        "",
        "命令 / commands:",
    ]
    for name, app in sorted(own_commands().items()):
        text = (load_command_class(app, name).help or "").strip().splitlines()
        lines.append(f"  {name:<12} {text[0] if text else ''}")
    lines += [
        "",
        "Django 自带的维护命令（migrate、createsuperuser、shell 等）不在此列；会清空或改写数据库的（flush 等）须写成",
        "onboard90 django <命令> / Django's maintenance commands (migrate, createsuperuser, shell, …) are not listed;",
        "those that empty or overwrite the database (flush, loaddata, …) run only as `onboard90 django <command>`",
        "",
    ]
    return "\n".join(lines)


def simulated_clock(command: str):
    """The wall clock set by ONBOARD90_CLOCK (a scratch database's simulated history, e.g. in tests that run
    the console script on data of 2012), else the real one. `init` runs on the real clock: it is how a
    scratch database is made (`init --scratch`), and a new database cannot be checked before it exists."""
    from onboard90.core import clock  # once Django is set up: this module runs before the settings load

    text = os.environ.get("ONBOARD90_CLOCK", "").strip()
    if not text or command == "init":
        return contextlib.nullcontext()
    return clock.simulated(clock.parse_instant(text))
