"""The web console: server-rendered pages (Starlette + Jinja2, htmx for partial updates), no SPA.

Every page calls the services over gRPC with the signed-in user's token (``Backend``); the services'
authorization table decides what each user sees. Sessions are one encrypted cookie (session.py);
every POST carries the session's CSRF token (form field ``csrf`` or header ``X-CSRF-Token``).
"""

from __future__ import annotations

import contextlib
import re
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import quote as urlquote
from urllib.parse import urlencode

import grpc
import jinja2
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from tanxiao.console import views
from tanxiao.console.backend import Backend, Channels, ConsoleError, available_formats
from tanxiao.console.i18n import LANGS, code_label, t
from tanxiao.console.identity import Identities, Identity
from tanxiao.console.session import COOKIE, Session, SessionCodec, anonymous, csrf_matches
from tanxiao.httpapi.forwarded import TrustedProxies
from tanxiao.httpapi.gateway import Gateway, GatewayMiddleware
from tanxiao.registry.v1 import registry_pb2
from tanxiao.scoring.v1 import scoring_pb2

HERE = Path(__file__).parent
HTMX = "htmx-2.0.11.min.js"  # vendored from the npm package htmx.org (static/htmx.LICENSE)
_DECISION_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
_USCC = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{18}$")
_DATE = re.compile(r"^(\d{4}-\d{2}-\d{2})?$")
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "frame-src 'self'; frame-ancestors 'self'; form-action 'self'; base-uri 'none'; object-src 'none'"
)


@dataclass(frozen=True)
class ConsoleConfig:
    secure_cookies: bool  # False only for plaintext development on loopback
    secret: str = ""
    max_age: int = 8 * 3600
    trusted_proxies: str = ""  # TANXIAO_HTTP_TRUSTED_PROXIES (tanxiao/httpapi/forwarded.py)
    auth_failures_per_minute: int = 20


class Console:
    def __init__(self, channels: Channels, identities: Identities, config: ConsoleConfig) -> None:
        self.channels = channels
        self.identities = identities
        self.config = config
        self.codec = SessionCodec(config.secret, config.max_age)
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(HERE / "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.globals.update(views.FILTERS)
        self.env.filters.update(views.FILTERS)

    # --- plumbing ---------------------------------------------------------------------------------

    def session(self, request: Request) -> Session:
        return self.codec.decode(request.cookies.get(COOKIE)) or anonymous(_preferred_lang(request))

    def page(
        self, request: Request, session: Session, template: str, status: int = 200, **context: Any
    ) -> Response:
        lang = session.lang

        def tr(key: str) -> str:
            return t(key, lang)

        def code(kind: str, value: str) -> str:
            return code_label(kind, value, lang)

        html = self.env.get_template(template).render(
            t=tr, code=code, lang=lang, session=session, htmx=HTMX, path=request.url.path,
            nav=views.navigation(session.role),
            auth_required=self.identities.auth_required, **context,
        )  # fmt: skip
        return self.respond(HTMLResponse(html, status_code=status), session)

    def respond(self, response: Response, session: Session) -> Response:
        response.set_cookie(
            COOKIE, self.codec.encode(session), max_age=self.config.max_age, path="/",
            secure=self.config.secure_cookies, httponly=True, samesite="strict",
        )  # fmt: skip
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["Cache-Control"] = "no-store"
        return response

    def redirect(self, url: str, session: Session) -> Response:
        return self.respond(RedirectResponse(url, status_code=303), session)

    def error(self, request: Request, session: Session, exc: ConsoleError) -> Response:
        status, key = _STATUS.get(exc.code, (502, "error"))
        if exc.reason == "CONSENT_REQUIRED":
            key = "err_consent"
        detail = "" if key in ("err_forbidden", "err_not_found", "err_consent") else exc.message
        return self.page(request, session, "error.html.j2", status=status, message_key=key, detail=detail)

    async def backend_call(self, session: Session, fn: Callable[[Backend], Any]) -> Any:
        backend = self.channels.for_user(session.token)
        return await run_in_threadpool(fn, backend)

    async def checked_form(self, request: Request, session: Session) -> dict[str, str] | None:
        """The POSTed form, or None when its CSRF token does not match the session's."""
        form = await request.form()
        values = {k: str(v) for k, v in form.items() if isinstance(v, str)}
        submitted = request.headers.get("x-csrf-token") or values.get("csrf")
        return values if csrf_matches(session, submitted) else None

    # --- sign-in ----------------------------------------------------------------------------------

    async def signin_form(self, request: Request) -> Response:
        session = self.session(request)
        return self.page(request, session, "signin.html.j2", failed="", lender="huzhou-bank")

    async def signin(self, request: Request) -> Response:
        session = self.session(request)
        form = await self.checked_form(request, session)
        if form is None:
            return self.page(request, session, "signin.html.j2", 403, failed="csrf_failed", lender="")
        identity: Identity | None
        if self.identities.auth_required:
            identity = await run_in_threadpool(self.identities.from_token, form.get("token", ""))
        else:
            identity = self.identities.development(form.get("role", ""), form.get("lender", ""))
        if identity is None:
            return self.page(
                request, session, "signin.html.j2", 401, failed="token_unknown", lender=form.get("lender", "")
            )
        signed = replace(
            session.signed_out(), token=identity.token, role=identity.role, tenant=identity.tenant,
            subject=identity.subject,
        )  # fmt: skip  # a new CSRF token at sign-in (no fixation of an anonymous one)
        return self.redirect("/", signed)

    async def signout(self, request: Request) -> Response:
        session = self.session(request)
        if await self.checked_form(request, session) is None:
            return self.page(request, session, "error.html.j2", 403, message_key="csrf_failed", detail="")
        return self.redirect("/signin", session.signed_out())

    async def set_lang(self, request: Request) -> Response:
        session = self.session(request)
        form = await self.checked_form(request, session)
        if form is None:
            return self.page(request, session, "error.html.j2", 403, message_key="csrf_failed", detail="")
        lang = form.get("lang", "")
        back = form.get("next", "/")
        back = back if back.startswith("/") and not back.startswith("//") else "/"
        return self.redirect(back, replace(session, lang=lang if lang in LANGS else session.lang))

    # --- pages ------------------------------------------------------------------------------------

    async def home(self, request: Request, session: Session) -> Response:
        return self.page(request, session, "home.html.j2")

    async def decision_lookup(self, request: Request, session: Session) -> Response:
        name = request.query_params.get("name", "").strip().removeprefix("decisions/")
        if not _DECISION_ID.match(name):
            return self.error(request, session, ConsoleError(grpc.StatusCode.INVALID_ARGUMENT, "decision id"))
        return self.redirect(f"/decisions/{name}", session)

    async def decision(self, request: Request, session: Session) -> Response:
        decision_id = request.path_params["decision_id"]
        if not _DECISION_ID.match(decision_id):
            return self.error(request, session, ConsoleError(grpc.StatusCode.NOT_FOUND, "decision"))
        name = f"decisions/{decision_id}"
        explanation = await self.backend_call(session, lambda b: b.explanation(name))
        review = views.review_view(explanation, session.role)
        return self.page(
            request, session, "decision.html.j2", d=explanation.decision, decision_id=decision_id,
            outcome=views.outcome(explanation.decision), profile=explanation.profile_snapshot,
            review=review, notice=request.query_params.get("done", ""), reasons=views.REVIEW_REASONS,
            request_id=f"console-{secrets.token_hex(8)}",
            product_code=scoring_pb2.Product.Name(explanation.decision.product),
        )  # fmt: skip

    async def explanation_page(self, request: Request, session: Session) -> Response:
        decision_id = request.path_params["decision_id"]
        if not _DECISION_ID.match(decision_id):
            return self.error(request, session, ConsoleError(grpc.StatusCode.NOT_FOUND, "decision"))
        explanation = await self.backend_call(session, lambda b: b.explanation(f"decisions/{decision_id}"))
        html = explanation.html_zh if session.lang == "zh" else explanation.html_en
        response = self.respond(HTMLResponse(html), session)
        # The page is the service's self-contained document: no scripts at all, inline styles only.
        response.headers["Content-Security-Policy"] = (
            "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'"
        )
        return response

    async def review(self, request: Request, session: Session) -> Response:
        decision_id = request.path_params["decision_id"]
        form = await self.checked_form(request, session)
        if form is None:
            return self.page(request, session, "error.html.j2", 403, message_key="csrf_failed", detail="")
        if not _DECISION_ID.match(decision_id):
            return self.error(request, session, ConsoleError(grpc.StatusCode.NOT_FOUND, "decision"))
        name = f"decisions/{decision_id}"
        try:
            await self.backend_call(session, lambda b: views.submit_review(b, name, form))
        except ValueError as exc:
            return self.error(request, session, ConsoleError(grpc.StatusCode.INVALID_ARGUMENT, str(exc)))
        return self.redirect(f"/decisions/{decision_id}?done=1", session)

    async def queue(self, request: Request, session: Session) -> Response:
        state = request.query_params.get("state", "")
        queue = await self.backend_call(session, lambda b: views.review_queue(b, session.tenant, state))
        template = "queue_rows.html.j2" if request.headers.get("hx-request") else "queue.html.j2"
        return self.page(
            request, session, template, queue=queue, state=state, queue_states=views.REVIEW_STATES
        )

    async def enterprises(self, request: Request, session: Session) -> Response:
        industry = request.query_params.get("industry", "").strip()
        region = request.query_params.get("region", "").strip()
        page_token = request.query_params.get("page", "")
        listed = await self.backend_call(session, lambda b: b.enterprises(industry, region, page_token))
        return self.page(
            request, session, "enterprises.html.j2", listed=listed, industry=industry, region=region
        )

    async def enterprise(self, request: Request, session: Session) -> Response:
        uscc = request.path_params["uscc"]
        if not _USCC.match(uscc):
            return self.error(request, session, ConsoleError(grpc.StatusCode.NOT_FOUND, "enterprise"))
        page = await self.backend_call(session, lambda b: b.enterprise_page(uscc, session.tenant))
        return self.page(
            request, session, "enterprise.html.j2", e=page.enterprise, profiles=page.profiles,
            latest=page.profiles[-1] if page.profiles else None, commitments=page.commitments,
            consents=page.consents,
            chart=views.grade_chart(page.profiles),
            size_code=registry_pb2.SizeClass.Name(page.enterprise.size_class),
            trend_code=views.trend_code(page.profiles),
        )  # fmt: skip

    async def portfolio(self, request: Request, session: Session) -> Response:
        lender = session.tenant or request.query_params.get("lender", "")
        as_of = _date(request.query_params.get("as_of", ""))
        dim = request.query_params.get("dim", "GRADE")
        key = request.query_params.get("key", "")
        report = await self.backend_call(session, lambda b: b.portfolio_report(lender, as_of))
        context = views.portfolio_context(report, dim, key)
        query = {"dim": context["dim"], "as_of": as_of} | ({} if session.tenant else {"lender": lender})
        template = "portfolio_drill.html.j2" if request.headers.get("hx-request") else "portfolio.html.j2"
        return self.page(
            request, session, template, r=report, lender=lender, as_of=as_of, formats=available_formats(),
            drill_url="/portfolio?" + urlencode(query), **context,
        )  # fmt: skip

    async def regulator(self, request: Request, session: Session) -> Response:
        as_of = _date(request.query_params.get("as_of", ""))
        region = request.query_params.get("region", "").strip()
        dim = request.query_params.get("dim", "LENDER")
        report = await self.backend_call(session, lambda b: b.regulatory_report(as_of, region))
        context = views.portfolio_context(report, dim, "")
        return self.page(
            request, session, "regulator.html.j2", r=report, as_of=as_of, region=region,
            formats=available_formats(), drill_url="", **context,
        )  # fmt: skip

    async def download(self, request: Request, session: Session) -> Response:
        regulatory = request.url.path.startswith("/regulator")
        fmt = request.query_params.get("format", "")
        if fmt not in available_formats():
            return self.error(request, session, ConsoleError(grpc.StatusCode.NOT_FOUND, "format"))
        as_of = _date(request.query_params.get("as_of", ""))
        lender = "" if regulatory else session.tenant or request.query_params.get("lender", "")
        data, content_type, filename = await self.backend_call(
            session, lambda b: b.export(lender=lender, regulatory=regulatory, as_of=as_of, fmt=fmt)
        )
        response = Response(data, media_type=content_type)
        response.headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{urlquote(filename)}"
        return self.respond(response, session)

    async def quote_form(self, request: Request, session: Session) -> Response:
        return self.page(request, session, "quote.html.j2", values=views.quote_defaults(request), problem="")

    async def quote(self, request: Request, session: Session) -> Response:
        form = await self.checked_form(request, session)
        if form is None:
            return self.page(request, session, "error.html.j2", 403, message_key="csrf_failed", detail="")
        try:
            quote = views.quote_request(form, session.tenant)
        except ValueError as exc:
            return self.page(request, session, "quote.html.j2", 400, values=form, problem=str(exc))
        decision = await self.backend_call(session, lambda b: b.quote(quote))
        return self.redirect(f"/{decision.name}", session)


_STATUS = {
    grpc.StatusCode.PERMISSION_DENIED: (403, "err_forbidden"),
    grpc.StatusCode.UNAUTHENTICATED: (401, "err_sign_in"),
    grpc.StatusCode.NOT_FOUND: (404, "err_not_found"),
    grpc.StatusCode.INVALID_ARGUMENT: (400, "err_invalid"),
    grpc.StatusCode.FAILED_PRECONDITION: (409, "err_invalid"),
    grpc.StatusCode.UNAVAILABLE: (503, "err_unavailable"),
    grpc.StatusCode.DEADLINE_EXCEEDED: (504, "err_unavailable"),
    grpc.StatusCode.UNIMPLEMENTED: (501, "err_unavailable"),
}


def _preferred_lang(request: Request) -> str:
    accept = request.headers.get("accept-language", "zh").lower()
    return "en" if accept.startswith("en") else "zh"


def _date(value: str) -> str:
    return value if _DATE.match(value.strip()) else ""


Handler = Callable[[Console, Request, Session], Awaitable[Response]]


def _signed_in(console: Console, handler: Handler, roles: tuple[str, ...] = ()) -> Callable[..., Any]:
    """Pages for signed-in users; ``roles`` only shapes the navigation: the services authorize."""

    async def endpoint(request: Request) -> Response:
        session = console.session(request)
        if not session.signed_in:
            return console.redirect(f"/signin?next={urlquote(request.url.path)}", session)
        try:
            return await handler(console, request, session)
        except ConsoleError as exc:
            if exc.code == grpc.StatusCode.UNAUTHENTICATED:  # revoked or expired: sign in again
                return console.redirect("/signin", session.signed_out())
            return console.error(request, session, exc)

    return endpoint


def create_app(channels: Channels, identities: Identities, config: ConsoleConfig) -> Starlette:
    console = Console(channels, identities, config)
    c = Console

    def page(handler: Handler) -> Callable[..., Any]:
        return _signed_in(console, handler)

    async def healthz(_request: Request) -> Response:
        return Response("ok", media_type="text/plain")

    routes = [
        Route("/healthz", healthz),
        Route("/signin", console.signin_form, methods=["GET"]),
        Route("/signin", console.signin, methods=["POST"]),
        Route("/signout", console.signout, methods=["POST"]),
        Route("/lang", console.set_lang, methods=["POST"]),
        Route("/", page(c.home)),
        Route("/decisions", page(c.decision_lookup)),
        Route("/decisions/{decision_id}", page(c.decision)),
        Route("/decisions/{decision_id}/explanation", page(c.explanation_page)),
        Route("/decisions/{decision_id}/review", page(c.review), methods=["POST"]),
        Route("/queue", page(c.queue)),
        Route("/enterprises", page(c.enterprises)),
        Route("/enterprises/{uscc}", page(c.enterprise)),
        Route("/portfolio", page(c.portfolio)),
        Route("/portfolio/download", page(c.download)),
        Route("/regulator", page(c.regulator)),
        Route("/regulator/download", page(c.download)),
        Route("/quote", page(c.quote_form), methods=["GET"]),
        Route("/quote", page(c.quote), methods=["POST"]),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        yield
        channels.close()

    # HTTP/JSON access to the services under /v1/ (tanxiao/httpapi/gateway.py): bearer tokens, no session.
    known = (lambda token: identities.from_token(token) is not None) if identities.auth_required else None
    gateway = Gateway(
        channels.registry,
        channels.scoring,
        known_token=known,
        trusted_proxies=TrustedProxies.parse(config.trusted_proxies),
        auth_failures_per_minute=config.auth_failures_per_minute,
    )
    app = Starlette(
        routes=routes, lifespan=lifespan, middleware=[Middleware(GatewayMiddleware, gateway=gateway)]
    )
    app.state.console = console
    return app
