"""Works: the list with thumbnails and terms at a glance, bulk upload, bulk terms, the work's
screenings and its consent history."""

import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Max, Model, QuerySet
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    StreamingHttpResponse,
)
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.timezone import localtime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from registry.admin.access import ScopedAdmin, artist_of, is_operator
from registry.admin.display import (
    PERMISSION_SHORT,
    PURPOSE_HELP,
    TERMS_SOURCE,
    decision_badge,
    purpose_label,
    terms_badge,
    thumbnail,
)
from registry.admin.forms import (
    TermsActionForm,
    TermsChoiceForm,
    UploadForm,
    WorkForm,
    terms_field_names,
)
from registry.admin.history import event_summary, organization_names
from registry.admin.queries import (
    batched,
    terms_by_work,
    with_screening_count,
    work_history,
)
from registry.admin.uploads import unticked_purposes, upload_result
from registry.exports.cells import csv_line
from registry.models import (
    ConsentEvent,
    Permission,
    Purpose,
    Work,
    WorkScreening,
)
from registry.selectors.terms import with_effective_permission
from registry.selectors.uploads import pending_uploads_of_batch
from registry.selectors.works import hold_sentence
from registry.services.pending_uploads import pending_uploads_create
from registry.services.terms import terms_permission_set, terms_set
from registry.services.uploads import (
    UploadBudgetSpent,
    UploadTooLarge,
    refusal_status,
    upload_admit,
)
from registry.services.works import (
    HOLD_REVIEW_ERRORS,
    work_hold_review,
    work_remove,
    work_update,
)

HISTORY_PAGE_SIZE = 50
SCREENINGS_PAGE_SIZE = 50
EXPORT_BATCH = 1000


class WorkChangeList(ChangeList):
    def get_results(self, request: HttpRequest) -> None:
        super().get_results(request)
        works = list(self.result_list)
        terms = terms_by_work([work.pk for work in works])
        for work in works:
            work.terms_by_purpose = terms[work.pk]
        self.result_list = works


def permission_filter(purpose: str) -> type[admin.SimpleListFilter]:
    class PermissionFilter(admin.SimpleListFilter):
        title = Purpose(purpose).label
        parameter_name = f"terms_{purpose}"

        def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
            return [(value, PERMISSION_SHORT[Permission(value)]) for value in Permission.values]

        def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
            if self.value() in Permission.values:
                return with_effective_permission(
                    queryset, purpose=purpose, permission=str(self.value())
                )
            return queryset

    return PermissionFilter


class ScreenedFilter(admin.SimpleListFilter):
    title = gettext_lazy("screenings")
    parameter_name = "screened"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("yes", gettext_lazy("Matched")), ("no", gettext_lazy("Never matched"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "yes":
            return queryset.filter(screening_count__gt=0)
        if self.value() == "no":
            return queryset.filter(screening_count=0)
        return queryset


class InRegistryFilter(admin.SimpleListFilter):
    title = gettext_lazy("status")
    parameter_name = "in_registry"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("yes", gettext_lazy("In the registry")), ("no", gettext_lazy("Removed"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "yes":
            return queryset.filter(removed_at__isnull=True)
        if self.value() == "no":
            return queryset.filter(removed_at__isnull=False)
        return queryset


class HeldFilter(admin.SimpleListFilter):
    title = gettext_lazy("held for review")
    parameter_name = "held"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("yes", gettext_lazy("Held")), ("no", gettext_lazy("Not held"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "yes":
            return queryset.exclude(hold="")
        if self.value() == "no":
            return queryset.filter(hold="")
        return queryset


def _terms_column(purpose: str) -> Callable[[Any, Work], SafeString | str]:
    @admin.display(description=Purpose(purpose).label)
    def column(self: Any, work: Work) -> SafeString | str:
        terms = getattr(work, "terms_by_purpose", None)
        return terms_badge(terms[purpose]) if terms else "—"

    column.__name__ = f"terms_{purpose}"
    return column


class WorkAdmin(ScopedAdmin):
    owner_lookup = "artist__user"
    artists_may_change = True
    artists_may_add = True
    operators_may_change = True
    operators_may_add = True

    form = WorkForm
    action_form = TermsActionForm
    actions = [
        "allow_purpose",
        "refuse_purpose",
        "license_purpose",
        "export_csv",
        "remove_works",
        "review_held_works",
    ]
    list_per_page = 50
    list_select_related = ["artist"]
    date_hierarchy = "created_at"
    search_help_text = gettext_lazy("Search by title, credit line or SHA-256.")
    object_history_template = "admin/registry/work/history.html"
    change_list_template = "admin/registry/work/change_list.html"

    class Media:
        css = {"all": ["registry/admin.css"]}

    # --- scope and list ------------------------------------------------------------------------

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        # Thumbnails are served by their own view; the list never loads their bytes.
        return with_screening_count(super().get_queryset(request).defer("thumbnail"))

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return WorkChangeList

    def get_list_display(self, request: HttpRequest) -> Any:
        columns = [
            "thumbnail_column",
            "title",
            *(f"terms_{purpose}" for purpose in Purpose.values),
            "screenings_column",
            "registered_column",
            "state_column",
        ]
        if is_operator(request.user):
            columns.insert(2, "artist_column")
        return columns

    def get_list_display_links(self, request: HttpRequest, list_display: Any) -> Any:
        return ["thumbnail_column", "title"]

    def get_list_filter(self, request: HttpRequest) -> list[Any]:
        filters: list[Any] = [permission_filter(purpose) for purpose in Purpose.values]
        filters += [ScreenedFilter, InRegistryFilter, HeldFilter]
        if is_operator(request.user):
            filters.append("artist__verified")
        return filters

    def get_search_fields(self, request: HttpRequest) -> list[str]:
        fields = ["title", "credit_line", "=sha256"]
        if is_operator(request.user):
            fields += ["artist__display_name", "artist__user__username"]
        return fields

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        if request.path == reverse("admin:autocomplete"):
            # The grant form's work search: a removed work cannot be licensed any more.
            queryset = queryset.filter(removed_at__isnull=True)
        return super().get_search_results(request, queryset, search_term)

    @admin.display(description=gettext_lazy("Artist"), ordering="artist__display_name")
    def artist_column(self, work: Work) -> str:
        return work.artist.display_name

    @admin.display(description=gettext_lazy("Image"))
    def thumbnail_column(self, work: Work) -> SafeString:
        return thumbnail(work.pk, alt=work.title)

    @admin.display(description=gettext_lazy("Screened by"), ordering="screening_count")
    def screenings_column(self, work: Work) -> SafeString | str:
        count = getattr(work, "screening_count", 0)
        if not count:
            return "0"
        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin:registry_work_screenings", args=[work.pk]),
            ngettext("%(count)d screening", "%(count)d screenings", count) % {"count": count},
        )

    @admin.display(description=gettext_lazy("Registered"), ordering="created_at")
    def registered_column(self, work: Work) -> str:
        # The day is enough in the list; the work's page shows the exact time.
        return date_format(localtime(work.created_at), "DATE_FORMAT")

    @admin.display(description=gettext_lazy("Status"), ordering="removed_at")
    def state_column(self, work: Work) -> SafeString | str:
        if work.removed_at:
            return _("Removed")
        if work.hold:
            # Why, on hover: the list has no room for the sentence the work's page shows.
            return format_html(
                '<span class="consentry-held" title="{}">{}</span>',
                hold_sentence(work),
                _("Held for review"),
            )
        return _("In the registry")

    @admin.display(description=gettext_lazy("Held"))
    def hold_reason(self, work: Work) -> str:
        return hold_sentence(work) or _("No")

    def get_actions(self, request: HttpRequest) -> Any:
        actions = super().get_actions(request)
        if not is_operator(request.user):
            actions.pop("review_held_works", None)  # only operators clear a hold
        return actions

    # --- change page ---------------------------------------------------------------------------

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        removed = isinstance(obj, Work) and obj.removed_at is not None
        return not removed and super().has_change_permission(request, obj)

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> list[Any]:
        record = [
            "artist_column",
            "sha256",
            "size",
            "created_at",
            "removed_at",
            "screenings_summary",
        ]
        top = ["large_thumbnail", "title", "credit_line", "source_urls"]
        if obj is not None and obj.hold:
            top.insert(1, "hold_reason")  # first thing the artist reads on the page
        fieldsets: list[Any] = [(None, {"fields": top})]
        terms = terms_by_work([obj.pk])[obj.pk] if obj is not None else {}
        for purpose in Purpose.values:
            source = terms[purpose].source if purpose in terms else ""
            fieldsets.append(
                (
                    Purpose(purpose).label,
                    {
                        "fields": list(terms_field_names(purpose)),
                        "description": format_html(
                            '<span class="consentry-purpose-help">{}</span> {}',
                            PURPOSE_HELP[Purpose(purpose)],
                            TERMS_SOURCE.get(source, ""),
                        ),
                        "classes": ["consentry-terms-fieldset"],
                    },
                )
            )
        fieldsets.append((gettext_lazy("Registry record"), {"fields": record}))
        return fieldsets

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [
            "large_thumbnail",
            "hold_reason",
            "artist_column",
            "sha256",
            "size",
            "created_at",
            "removed_at",
            "screenings_summary",
        ]

    @admin.display(description=gettext_lazy("Image"))
    def large_thumbnail(self, work: Work) -> SafeString:
        return thumbnail(work.pk, size=240, alt=work.title)

    @admin.display(description=gettext_lazy("Size in pixels"))
    def size(self, work: Work) -> str:
        return f"{work.width} x {work.height}"

    @admin.display(description=gettext_lazy("Screened by"))
    def screenings_summary(self, work: Work) -> SafeString:
        count = getattr(work, "screening_count", 0)
        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin:registry_work_screenings", args=[work.pk]),
            ngettext("%(count)d screening", "%(count)d screenings", count) % {"count": count},
        )

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if not change:
            raise PermissionDenied  # works are added by uploading images
        if {"title", "credit_line", "source_urls"} & set(form.changed_data):
            work_update(
                work=obj,
                title=form.cleaned_data["title"],
                credit_line=form.cleaned_data["credit_line"],
                source_urls=form.cleaned_data["source_urls"],
            )

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        work: Work = form.instance
        for purpose, terms in form.changed_terms().items():
            try:
                terms_set(artist=work.artist, works=[work], purpose=purpose, **terms)
            except ValidationError as error:
                messages.error(request, "; ".join(error.messages))

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> Any:
        # Works are added by uploading images, never from a work's page.
        extra_context = {**(extra_context or {}), "show_save_and_add_another": False}
        return super().change_view(request, object_id, form_url, extra_context)

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: Any = None) -> Any:
        return HttpResponseRedirect(reverse("admin:registry_work_upload"))

    # --- custom pages --------------------------------------------------------------------------

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        return [
            path("upload/", wrap(self.upload_view), name="registry_work_upload"),
            path(
                "<int:object_id>/thumbnail/",
                wrap(self.thumbnail_view),
                name="registry_work_thumbnail",
            ),
            path(
                "<int:object_id>/screenings/",
                wrap(self.screenings_view),
                name="registry_work_screenings",
            ),
            *super().get_urls(),
        ]

    def _own_work(self, request: HttpRequest, object_id: Any) -> Work:
        """The work if the user may see it; another artist's work is as absent as a missing one."""
        work = self.get_queryset(request).filter(pk=object_id).first()
        if work is None or not self.has_view_permission(request, work):
            raise Http404(_("No such work."))
        return work

    def thumbnail_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        if not self.has_view_permission(request):
            raise Http404(_("No such work."))
        data = (
            super()
            .get_queryset(request)
            .filter(pk=object_id)
            .values_list("thumbnail", flat=True)
            .first()
        )
        if not data:
            raise Http404(_("No such work."))
        response = HttpResponse(bytes(data), content_type="image/webp")
        # Private: a shared cache must never hand one artist's thumbnail to another.
        response["Cache-Control"] = "private, max-age=3600"
        response["X-Content-Type-Options"] = "nosniff"
        return response

    def screenings_view(self, request: HttpRequest, object_id: int) -> TemplateResponse:
        work = self._own_work(request, object_id)
        rows = (
            WorkScreening.objects.filter(work=work)
            .values(
                "screening_id",
                "screening__purpose",
                "screening__created_at",
                "organization__name",
                "decision",
            )
            .annotate(items=Count("id"), decided_at=Max("decided_at"))
            .order_by("-decided_at", "screening_id")
        )
        page = Paginator(rows, SCREENINGS_PAGE_SIZE).get_page(request.GET.get("p"))
        listed: list[dict[str, Any]] = [dict(row) for row in page.object_list]
        for row in listed:
            row["purpose_label"] = purpose_label(row["screening__purpose"])
            row["decision_badge"] = decision_badge(row["decision"])
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "work": work,
            "page": page,
            "rows": listed,
            "title": _("Who screened “%(title)s”") % {"title": work.title},
            "subtitle": None,
        }
        return TemplateResponse(request, "admin/registry/work/screenings.html", context)

    def history_view(
        self, request: HttpRequest, object_id: str, extra_context: Any = None
    ) -> HttpResponse:
        """The work's consent history, read from the ledger (not Django's admin log)."""
        work = self._own_work(request, object_id)
        events = ConsentEvent.objects.filter(work_history(work)).order_by("-sequence")
        page = Paginator(events, HISTORY_PAGE_SIZE).get_page(request.GET.get("p"))
        listed = list(page.object_list)
        names = organization_names(listed)
        entries = [(event, event_summary(event, names)) for event in listed]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "object": work,
            "work": work,
            "page": page,
            "entries": entries,
            "title": _("Consent history of “%(title)s”") % {"title": work.title},
            "subtitle": None,
        }
        return TemplateResponse(request, self.object_history_template, context)

    def upload_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_add_permission(request):
            raise PermissionDenied
        operator = is_operator(request.user)
        form = UploadForm(
            request.POST if request.method == "POST" else None,
            request.FILES if request.method == "POST" else None,
            operator=operator,
        )
        refused = 0
        retry_after = 0
        if request.method == "POST" and form.is_valid():
            artist = form.cleaned_data["artist"] if operator else artist_of(request.user)
            if artist is None:
                raise PermissionDenied
            try:
                upload_admit(owner=f"artist:{artist.pk}", uploads=form.cleaned_data["images"])
                pending = pending_uploads_create(
                    artist=artist,
                    uploads=form.cleaned_data["images"],
                    allow=form.cleaned_data["allow"],
                    license=form.cleaned_data["license"],
                )
            except (UploadTooLarge, UploadBudgetSpent) as error:
                form.add_error("images", str(error))
                refused = refusal_status(error)
                retry_after = getattr(error, "retry_after", 0)
            except ValidationError as error:
                form.add_error("license", error)
                refused = 400
            else:
                # The worker registers the files; the page of the batch shows them as they go.
                batch_url = reverse("admin:registry_work_upload")
                return HttpResponseRedirect(f"{batch_url}?batch={pending[0].batch}")
        results = self._batch_results(request, operator=operator)
        if results and not any(result.processing for result in results):
            self._report_upload(request, results)
        uploader = None if operator else artist_of(request.user)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "form": form,
            "results": results,
            "processing": any(result.processing for result in results),
            "uploader": uploader,
            "purpose_help": [(purpose.label, PURPOSE_HELP[purpose]) for purpose in Purpose],
            "unticked": unticked_purposes(uploader) if uploader is not None else None,
            "title": _("Upload images"),
            "subtitle": None,
            "media": self.media + form.media,
        }
        response = TemplateResponse(
            request, "admin/registry/work/upload.html", context, status=refused or 200
        )
        if retry_after:
            response["Retry-After"] = str(retry_after)
        return response

    def _batch_results(self, request: HttpRequest, *, operator: bool) -> list[Any]:
        """The files of the batch named in the address; another artist's batch is a 404."""
        if "batch" not in request.GET:
            return []
        try:
            batch = uuid.UUID(request.GET["batch"])
        except ValueError:
            raise Http404 from None
        artist = None if operator else artist_of(request.user)
        uploads = list(pending_uploads_of_batch(batch, artist=artist))
        if not uploads:
            raise Http404
        return [upload_result(upload) for upload in uploads]

    def _report_upload(self, request: HttpRequest, results: Sequence[Any]) -> None:
        registered = sum(result.registered for result in results)
        if registered:
            messages.success(
                request,
                ngettext(
                    "%(count)d of %(total)d file was registered as a work.",
                    "%(count)d of %(total)d files were registered as works.",
                    len(results),
                )
                % {"count": registered, "total": len(results)},
            )
        for result in results:
            if not result.registered:
                messages.error(request, result.problem)
            elif result.disputes:
                messages.warning(
                    request,
                    _(
                        "“%(file)s” resembles a work another artist registered earlier; "
                        "a dispute was opened and an operator will review it."
                    )
                    % {"file": result.file},
                )

    # --- bulk actions --------------------------------------------------------------------------

    @admin.action(description=gettext_lazy("Allow the chosen purpose"))
    def allow_purpose(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        self._set_terms(request, queryset, Permission.ALLOWED)

    @admin.action(description=gettext_lazy("Refuse the chosen purpose"))
    def refuse_purpose(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        self._set_terms(request, queryset, Permission.NOT_ALLOWED)

    @admin.action(description=gettext_lazy("Licensed organizations only, for the chosen purpose"))
    def license_purpose(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        self._set_terms(request, queryset, Permission.LICENSED)

    def _set_terms(self, request: HttpRequest, queryset: QuerySet[Any], permission: str) -> None:
        form = TermsChoiceForm(request.POST)
        purposes = form.purposes() if form.is_valid() else []
        if not purposes:
            messages.error(request, _("Choose a purpose next to the action, then press Go."))
            return
        works = list(queryset.filter(removed_at__isnull=True).select_related("artist"))
        try:
            changes = len(
                terms_permission_set(
                    works=works,
                    purposes=purposes,
                    permission=permission,
                    license=form.cleaned_data["license"].strip(),
                )
            )
        except ValidationError as error:
            messages.error(request, "; ".join(error.messages))
            return
        messages.success(
            request,
            ngettext(
                "%(purposes)s: %(permission)s for %(count)d work; %(changes)d changes recorded "
                "in the consent ledger.",
                "%(purposes)s: %(permission)s for %(count)d works; %(changes)d changes recorded "
                "in the consent ledger.",
                len(works),
            )
            % {
                "purposes": ", ".join(purpose_label(purpose) for purpose in purposes),
                "permission": PERMISSION_SHORT[Permission(permission)],
                "count": len(works),
                "changes": changes,
            },
        )

    @admin.action(description=gettext_lazy("Export as CSV"))
    def export_csv(self, request: HttpRequest, queryset: QuerySet[Any]) -> StreamingHttpResponse:
        work_ids = list(queryset.order_by("pk").values_list("pk", flat=True))
        response = StreamingHttpResponse(
            self._csv_lines(work_ids), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = 'attachment; filename="consentry-works.csv"'
        return response

    def _csv_lines(self, work_ids: Sequence[int]) -> Iterator[str]:
        # The byte-order mark lets spreadsheet programs read Chinese titles as UTF-8.
        yield "\ufeff" + csv_line(
            ["id", "title", "artist", "credit", "registered", "removed"]
            + [f"{purpose} {part}" for purpose in Purpose.values for part in ("terms", "licence")]
        )
        for batch in batched(work_ids, EXPORT_BATCH):
            works = Work.objects.filter(pk__in=batch).select_related("artist").defer("thumbnail")
            terms = terms_by_work(list(batch))
            for work in works.order_by("pk"):
                row = [
                    work.pk,
                    work.title,
                    work.artist.display_name,
                    work.credit,
                    work.created_at.isoformat(),
                    work.removed_at.isoformat() if work.removed_at else "",
                ]
                for purpose in Purpose.values:
                    row += [terms[work.pk][purpose].permission, terms[work.pk][purpose].license]
                yield csv_line(row)

    @admin.action(description=gettext_lazy("Check held works against all artists' works"))
    def review_held_works(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        """review_held_works for the chosen held works (operators only: get_actions)."""
        if not is_operator(request.user):
            raise PermissionDenied
        held = list(queryset.filter(removed_at__isnull=True).exclude(hold="").order_by("pk"))
        if not held:
            messages.warning(request, _("None of the chosen works is held."))
            return
        by = f"admin:{request.user.get_username()}"
        for work in held:
            try:
                review = work_hold_review(work=work, reviewed_by=by)
            except HOLD_REVIEW_ERRORS as error:
                messages.error(
                    request,
                    _("“%(title)s” is still held: it could not be checked (%(error)s).")
                    % {"title": work.title, "error": _review_error(error)},
                )
                continue
            if review.disputes:
                messages.warning(
                    request,
                    ngettext(
                        "“%(title)s” was released; the check opened %(count)d dispute.",
                        "“%(title)s” was released; the check opened %(count)d disputes.",
                        len(review.disputes),
                    )
                    % {"title": work.title, "count": len(review.disputes)},
                )
            else:
                messages.success(
                    request,
                    _("“%(title)s” was released: it resembles no other artist's work.")
                    % {"title": work.title},
                )

    @admin.action(description=gettext_lazy("Remove from the registry"))
    def remove_works(
        self, request: HttpRequest, queryset: QuerySet[Any]
    ) -> TemplateResponse | None:
        works = queryset.filter(removed_at__isnull=True)
        if request.POST.get("confirm") != "yes":
            context = {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "works": works[: self.list_per_page * 4],
                "count": works.count(),
                "selected": request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME),
                "select_across": request.POST.get("select_across", "0"),
                "action": "remove_works",
                "title": _("Remove works from the registry?"),
                "subtitle": None,
            }
            return TemplateResponse(
                request, "admin/registry/work/remove_confirmation.html", context
            )
        reason = f"removed in the admin by {request.user.get_username()}"
        removed = sum(work_remove(work=work, reason=reason) for work in works)
        messages.success(
            request,
            ngettext(
                "%(count)d work was removed from the registry.",
                "%(count)d works were removed from the registry.",
                removed,
            )
            % {"count": removed},
        )
        return None


for _purpose in Purpose.values:
    setattr(WorkAdmin, f"terms_{_purpose}", _terms_column(_purpose))

admin.site.register(Work, WorkAdmin)


def _review_error(error: Exception) -> str:
    return "; ".join(error.messages) if isinstance(error, ValidationError) else str(error)
