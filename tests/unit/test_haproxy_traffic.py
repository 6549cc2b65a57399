"""HAProxy's `show stat` CSV → per-colour counters, and the figures a window makes of them."""

from __future__ import annotations

from console.core.measures.traffic import TrafficSnapshot, TrafficWindow, traffic_text
from console.drivers.proxy.haproxy.traffic import NO_PERCENTILES_NOTE, parse_show_stat

# The columns HAProxy 2.6 prints, in its order (shortened after the ones read here).
HEADER = (
    "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,"
    "wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,"
    "lbtot,tracked,type,rate,rate_lim,rate_max,check_status,check_code,check_duration,hrsp_1xx,"
    "hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,hrsp_other,hanafail,req_rate,req_rate_max,req_tot,"
    "cli_abrt,srv_abrt,comp_in,comp_out,comp_byp,comp_rsp,lastsess,last_chk,last_agt,qtime,"
    "ctime,rtime,ttime,agent_status,agent_code,agent_duration,check_desc,agent_desc,check_rise,"
    "check_fall,check_health,agent_rise,agent_fall,agent_health,addr,cookie,mode,algo,conn_rate,"
    "conn_rate_max,conn_tot,intercepted,dcon,dses,wrew,connect,reuse,cache_lookups,cache_hits,"
    "srv_icur,src_ilim,qtime_max,ctime_max,rtime_max,ttime_max,"
)


def row(
    server: str, scur: int, codes: tuple[int, int, int, int, int, int], rtime: int, rmax: int
) -> str:
    columns = HEADER[2:].rstrip(",").split(",")
    values = dict.fromkeys(columns, "")
    values.update(pxname="bluegreen", svname=server, scur=str(scur), rtime=str(rtime))
    values["rtime_max"] = str(rmax)
    names = ("hrsp_1xx", "hrsp_2xx", "hrsp_3xx", "hrsp_4xx", "hrsp_5xx", "hrsp_other")
    values.update({name: str(count) for name, count in zip(names, codes, strict=True)})
    return ",".join(values[c] for c in columns) + ","


def answer(blue: str, green: str) -> str:
    return f"{HEADER}\n{blue}\n{green}\n\n"


def test_the_servers_rows_become_counters() -> None:
    text = answer(row("blue", 2, (1, 50, 0, 3, 7, 0), 12, 130), row("green", 0, (0,) * 6, 0, 0))
    colours = parse_show_stat(text, "bluegreen")
    blue = colours["blue"]
    assert (blue.requests, blue.status_2xx, blue.status_4xx, blue.status_5xx) == (61, 50, 3, 7)
    assert blue.open_requests == 2 and blue.websockets is None  # HAProxy cannot tell them apart
    assert (blue.recent_mean_ms, blue.max_ms) == (12.0, 130.0)
    assert colours["green"].requests == 0


def test_other_backends_and_a_missing_column_are_ignored() -> None:
    other = row("blue", 9, (0, 99, 0, 0, 0, 0), 1, 1).replace("bluegreen,", "elsewhere,", 1)
    assert parse_show_stat(answer(other, ""), "bluegreen") == {}
    assert parse_show_stat("Unknown command\n", "bluegreen") == {}
    short = "# pxname,svname,scur,hrsp_2xx\nbluegreen,blue,1,5\n"
    blue = parse_show_stat(short, "bluegreen")["blue"]
    assert blue.requests == 5 and blue.recent_mean_ms is None


def test_the_window_gives_rates_a_mean_and_says_there_is_no_p99() -> None:
    first = parse_show_stat(answer(row("blue", 0, (0, 10, 0, 0, 0, 0), 5, 20), ""), "bluegreen")
    second = parse_show_stat(answer(row("blue", 1, (0, 100, 0, 0, 10, 0), 8, 120), ""), "bluegreen")
    window = TrafficWindow(seconds=30)
    window.add(TrafficSnapshot(100.0, first, False, NO_PERCENTILES_NOTE))
    window.add(TrafficSnapshot(110.0, second, False, NO_PERCENTILES_NOTE))
    figures = window.figures("blue")
    assert figures is not None
    assert figures.rps == 10.0 and figures.error_rate == 0.1
    assert figures.p50_ms is None and figures.p99_ms is None
    assert (figures.mean_ms, figures.max_ms, figures.open_connections) == (8.0, 120.0, 1)
    text = traffic_text(figures)
    assert "mean 8, max 120 ms" in text and text.endswith(NO_PERCENTILES_NOTE)


def test_a_proxy_that_counts_nothing_still_says_why() -> None:
    window = TrafficWindow()
    window.add(TrafficSnapshot(1.0, {}, note="no traffic figures without the Lua module"))
    figures = window.figures("green")
    assert figures is not None and figures.rps is None
    assert traffic_text(figures) == "traffic — no traffic figures without the Lua module"
