"""Commands ``xietong serve`` (the watcher service) and ``xietong status`` (is it alive)."""

from __future__ import annotations

import sys

import click

from automation.cli.app import echo_json, xietong


@xietong.command()
@click.argument("drive", type=click.Path(file_okay=False))
@click.option("--poll-only", is_flag=True, help="No file events: rely on the periodic rescan.")
@click.option(
    "--interval", type=click.FloatRange(min=0.05), help="Seconds between rescans (default 30)."
)
@click.option(
    "--quiet",
    type=click.FloatRange(min=0),
    help="Seconds a file must stay unchanged before it is read (default 2).",
)
def serve(drive: str, poll_only: bool, interval: float | None, quiet: float | None) -> None:
    """Watch DRIVE and answer every save within seconds; run the scheduled jobs (监控服务).

    Stops cleanly on SIGTERM or Ctrl-C after the current cycle.
    """
    import logging

    from automation.api import serve as run_service

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    status = run_service(drive, poll_only=poll_only, interval=interval, quiet=quiet)
    click.echo(
        f"已停止：共处理 {status.get('cycles', 0)} 次，接收文件 {status.get('files_taken', 0)} 个"
    )


@xietong.command()
@click.argument("drive", type=click.Path(file_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the full status as JSON.")
def status(drive: str, as_json: bool) -> None:
    """Is the watcher service of DRIVE alive: heartbeat, last cycle, queue, pending writes,
    quarantined files, errors of the last day (服务状态). Exit 0 running, 1 not running."""
    from automation.api import service_status

    st = service_status(drive)
    if as_json:
        echo_json(st)
    else:
        for line in _lines(st):
            click.echo(line)
    sys.exit(0 if st.get("running") else 1)


def _lines(st: dict) -> list[str]:
    if st.get("state") == "never":
        return ["监控服务从未在本机为此共享盘运行过"]
    state = (
        "运行中"
        if st.get("running")
        else ("已停止" if st["state"] == "stopped" else "未运行（心跳已中断）")
    )
    lines = [
        f"状态：{state}（心跳 {st.get('heartbeat_age_s')} 秒前，进程 {st.get('pid')}@{st.get('host')}）"
    ]
    if st.get("unavailable"):
        lines.append(f"共享盘：{st['unavailable']}")
    last = st.get("last_cycle")
    if last:
        lines.append(
            f"最近处理：{last.get('start')}，用时 {last.get('duration_s')} 秒；{last.get('summary', '')}"
        )
    lines.append(f"队列：{st.get('queue_length', 0)}，等待保存完成：{st.get('waiting_files', 0)}")
    for name, t in (st.get("threads") or {}).items():
        flag = "正常" if t.get("alive") else "已停止"
        extra = f"，重启 {t['restarts']} 次" if t.get("restarts") else ""
        lines.append(f"  {name}：{flag}{extra}")
    for p in st.get("pending_writes") or []:
        lines.append(f"推迟写入：{p.get('file')}（{p.get('holder') or p.get('reason')}）")
    for q in st.get("quarantined") or []:
        lines.append(
            f"已暂停处理：{q.get('file')}（失败 {q.get('failures')} 次：{q.get('error')}）"
        )
    if st.get("notification_failures"):
        lines.append(f"通知发送失败：{st['notification_failures']} 次")
    notes = st.get("notifications") or {}
    if notes:
        lines.append(
            f"通知：待发 {notes.get('messages_queued', 0)} 封，已发 {notes.get('messages_sent', 0)} 封，"
            f"失败待重试 {notes.get('messages_failing', 0)} 封"
        )
        for f in (notes.get("failures") or [])[:5]:
            lines.append(f"  {f}")
    errors = st.get("errors") or []
    lines.append(f"最近一天的错误：{len(errors)}")
    for e in errors[-10:]:
        lines.append(f"  {e.get('time')} {e.get('where')}：{e.get('error')}")
    return lines
