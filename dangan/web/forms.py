"""The printed forms as web pages: the same PDFs the CLI's `dangan print` writes, served inline, through
the same core calls (``core.service.forms``: the user's visibility, the policy point, the audit).

    /volumes/{name}/print/{form}      contents-list, reference-sheet, cover, labels, stamp
    /loans/{lid}/slip.pdf             借阅单
    /disposition/{lid}/list.pdf       销毁清册
    /disposition/{lid}/certificate.pdf  销毁证明

and as print pages — the same :class:`Form` the PDF is drawn from, laid out in HTML with print CSS
(``static/sheet.css``: A4, the header row repeated on each page, no navigation):

    /loans/register/print?from=&to=   借阅登记簿
    /disposition/{lid}/print          销毁清册
    /disposition/{lid}/certificate    销毁证明
    /loans/{lid}/slip                 借阅单
    /volumes/{name}/sheet/{form}      contents-list, reference-sheet, cover (labels and stamps: PDF only)
"""
from __future__ import annotations

from starlette.responses import Response
from starlette.routing import Route

from dangan.errors import NotFound
from dangan.web.http import content_disposition

FORMS = ("contents-list", "reference-sheet", "cover", "labels", "stamp")


def pdf_response(pdf: bytes, name: str) -> Response:
    return Response(pdf, media_type="application/pdf",
                    headers={"Content-Disposition": content_disposition(name, True),
                             "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"})


def sheet(form) -> dict:
    """A :class:`render.Form` as the print page lays it out: the same blocks, in the same order, with the
    same column shares, blank lines to write on and signature lines as the PDF (``render.render_form``)."""
    from dangan.core.management.forms.render import Fields, Grid, Heading, Signatures
    blocks = []
    for b in form.blocks:
        if isinstance(b, Heading):
            size = "xlarge" if b.size >= 18 else "large" if b.size >= 12 else "small" if b.size < 9 else "normal"
            blocks.append({"kind": "heading", "text": b.text, "align": "centre" if b.align == "centre" else "left",
                           "size": size})
        elif isinstance(b, Fields):
            pairs = [("" if k is None else str(k), "" if v is None else str(v)) for k, v in b.pairs]
            pairs += [("", "")] * (-len(pairs) % b.columns)
            blocks.append({"kind": "fields", "rows": [pairs[i:i + b.columns] for i in range(0, len(pairs), b.columns)]})
        elif isinstance(b, Grid):
            rel = list(b.widths or [1] * len(b.columns))
            blocks.append({"kind": "grid", "columns": list(b.columns),
                           "widths": [f"{100 * w / sum(rel):.1f}%" for w in rel],
                           "rows": [["" if v is None else str(v) for v in r] for r in b.rows],
                           "blank": max(0, b.min_rows - len(b.rows))})
        elif isinstance(b, Signatures):
            blocks.append({"kind": "signatures", "roles": list(b.roles)})
        else:
            raise TypeError(f"the print page has no layout for {type(b).__name__}")
    return {"title": form.title, "landscape": form.landscape, "footer": form.footer, "blocks": blocks}


def routes(web) -> list[Route]:
    from dangan.core.service import forms
    from dangan.web.app import page

    def volume_form(archive, request, form, sess):
        name, kind = request.path_params["name"], request.path_params["form"]
        if kind not in FORMS:
            raise NotFound(f"no form {kind!r}: one of {', '.join(FORMS)}")
        if kind == "labels":
            pdf = forms.record_labels(archive, volume=name)
        elif kind == "stamp":
            pdf = forms.archival_stamps(archive, volume=name)
        else:
            pdf = forms.volume_form(archive, name, kind)
        return pdf_response(pdf, f"{name}-{kind}.pdf")

    def slip(archive, request, form, sess):
        lid = request.path_params["lid"]
        return pdf_response(forms.lending_slip(archive, lid), f"{lid}-slip.pdf")

    def destruction(kind):
        def handler(archive, request, form, sess):
            lid = request.path_params["lid"]
            pdf = (forms.destruction_list(archive, lid) if kind == "list"
                   else forms.destruction_certificate(archive, lid))
            return pdf_response(pdf, f"{lid}-{kind}.pdf")
        return handler

    def register_page(archive, request, form, sess):
        from dangan.core.catalogue.fields import parse_date
        import datetime as dt

        def day(key):
            v = request.query_params.get(key, "").strip()
            return dt.date.fromisoformat(parse_date(v)) if v else None
        shown = forms.lending_register_sheet(archive, since=day("from"), until=day("to"))
        return web.render(request, "sheet.html", sheet=sheet(shown), pdf=None)

    def destruction_page(archive, request, form, sess):
        lid = request.path_params["lid"]
        return web.render(request, "sheet.html", sheet=sheet(forms.destruction_list_sheet(archive, lid)),
                          pdf=f"/disposition/{lid}/list.pdf")

    def certificate_page(archive, request, form, sess):
        lid = request.path_params["lid"]
        return web.render(request, "sheet.html", sheet=sheet(forms.destruction_certificate_sheet(archive, lid)),
                          pdf=f"/disposition/{lid}/certificate.pdf")

    def slip_page(archive, request, form, sess):
        lid = request.path_params["lid"]
        return web.render(request, "sheet.html", sheet=sheet(forms.lending_slip_sheet(archive, lid)),
                          pdf=f"/loans/{lid}/slip.pdf")

    def volume_page(archive, request, form, sess):
        name, kind = request.path_params["name"], request.path_params["form"]
        if kind not in forms.VOLUME_FORMS:
            raise NotFound(f"no print page {kind!r}: one of {', '.join(forms.VOLUME_FORMS)}")
        return web.render(request, "sheet.html", sheet=sheet(forms.volume_sheet(archive, name, kind)),
                          pdf=f"/volumes/{name}/print/{kind}")

    return [
        Route("/loans/register/print", page(web, register_page)),
        Route("/disposition/{lid}/print", page(web, destruction_page)),
        Route("/disposition/{lid}/certificate", page(web, certificate_page)),
        Route("/loans/{lid}/slip", page(web, slip_page)),
        Route("/volumes/{name}/sheet/{form}", page(web, volume_page)),
        Route("/volumes/{name}/print/{form}", page(web, volume_form)),
        Route("/loans/{lid}/slip.pdf", page(web, slip)),
        Route("/disposition/{lid}/list.pdf", page(web, destruction("list"))),
        Route("/disposition/{lid}/certificate.pdf", page(web, destruction("certificate"))),
    ]
