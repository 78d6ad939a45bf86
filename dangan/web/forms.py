"""The printed forms as web pages: the same PDFs the CLI's `dangan print` writes, served inline, through
the same core calls (``core.service.forms``: the user's visibility, the policy point, the audit).

    /volumes/{name}/print/{form}      contents-list, reference-sheet, cover, labels, stamp
    /loans/{lid}/slip.pdf             借阅单
    /disposition/{lid}/list.pdf       销毁清册
    /disposition/{lid}/certificate.pdf  销毁证明
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

    return [
        Route("/volumes/{name}/print/{form}", page(web, volume_form)),
        Route("/loans/{lid}/slip.pdf", page(web, slip)),
        Route("/disposition/{lid}/list.pdf", page(web, destruction("list"))),
        Route("/disposition/{lid}/certificate.pdf", page(web, destruction("certificate"))),
    ]
