"""The admin's forms. They validate input and hand it to services; none of them saves a model."""

from collections.abc import Mapping, Sequence
from typing import Any

from django import forms
from django.contrib.admin import helpers
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext_lazy as _

from registry.admin.queries import terms_by_work
from registry.models import (
    Artist,
    Dispute,
    DisputeResolution,
    DisputeStatus,
    Grant,
    Organization,
    OrganizationAPIKey,
    OrganizationKind,
    Permission,
    Purpose,
    Work,
)
from registry.selectors.terms import EffectiveTerms, default_terms_of
from registry.services.organizations import platform_settings_clean
from registry.services.terms import validate_terms

ALL_PURPOSES = "all"


# --- Terms per purpose: the same three fields on a work and on the artist's defaults ----------


def terms_field_names(purpose: str) -> tuple[str, str, str]:
    return (f"{purpose}_permission", f"{purpose}_license", f"{purpose}_attribution")


def _terms_fields() -> dict[str, forms.Field]:
    fields: dict[str, forms.Field] = {}
    for purpose in Purpose.values:
        permission, license, attribution = terms_field_names(purpose)
        fields[permission] = forms.ChoiceField(
            label=_("Permission"),
            choices=Permission.choices,
            widget=forms.RadioSelect(attrs={"class": "radiolist inline"}),
        )
        fields[license] = forms.CharField(
            label=_("Licence"),
            required=False,
            max_length=100,
            help_text=_("An SPDX licence id (e.g. CC-BY-4.0) or a grant reference."),
        )
        fields[attribution] = forms.CharField(
            label=_("Attribution text"),
            required=False,
            widget=forms.Textarea(attrs={"rows": 2, "cols": 60}),
        )
    return fields


class TermsFieldsMixin(forms.BaseForm):
    """Per-purpose terms fields: initial values in, only the purposes the user changed out."""

    def set_terms_initial(self, terms: Mapping[str, EffectiveTerms]) -> None:
        for purpose, current in terms.items():
            permission, license, attribution = terms_field_names(purpose)
            self.initial[permission] = current.permission
            self.initial[license] = current.license
            self.initial[attribution] = current.attribution

    def changed_terms(self) -> dict[str, dict[str, str]]:
        changed = {}
        for purpose in Purpose.values:
            names = terms_field_names(purpose)
            if any(name in self.changed_data for name in names):
                permission, license, attribution = (self.cleaned_data[name] for name in names)
                changed[purpose] = {
                    "permission": permission,
                    "license": license.strip(),
                    "attribution": attribution.strip(),
                }
        return changed

    def clean_terms(self) -> None:
        for purpose, terms in self.changed_terms().items():
            try:
                validate_terms(
                    purpose=purpose, permission=terms["permission"], license=terms["license"]
                )
            except ValidationError as error:
                self.add_error(terms_field_names(purpose)[1], error)


def _source_urls_text(value: Any) -> str:
    return "\n".join(value) if isinstance(value, list) else str(value or "")


class WorkFormBase(TermsFieldsMixin, forms.ModelForm):
    source_urls = forms.CharField(
        label=_("Source URLs"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text=_("Where you published this work, one address per line."),
    )

    class Meta:
        model = Work
        fields = ["title", "credit_line", "source_urls"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.initial["source_urls"] = _source_urls_text(self.initial.get("source_urls"))
        if self.instance.pk:
            self.set_terms_initial(terms_by_work([self.instance.pk])[self.instance.pk])

    def clean_source_urls(self) -> list[str]:
        text: str = self.cleaned_data["source_urls"]
        return [line.strip() for line in text.splitlines() if line.strip()]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        self.clean_terms()
        return cleaned


WorkForm = type("WorkForm", (WorkFormBase,), _terms_fields())


class ArtistProfileFormBase(TermsFieldsMixin, forms.ModelForm):
    class Meta:
        model = Artist
        fields = ["display_name", "credit_line"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.set_terms_initial(default_terms_of(self.instance))

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        self.clean_terms()
        return cleaned


ArtistProfileForm = type("ArtistProfileForm", (ArtistProfileFormBase,), _terms_fields())


class ArtistCreateForm(forms.ModelForm):
    """An operator registers an artist: a login to the admin and the artist's name."""

    username = forms.CharField(label=_("Username"), max_length=150)
    email = forms.EmailField(label=_("Email address"), required=False)
    password = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(render_value=False),
        help_text=_("The artist can change it after logging in."),
    )

    class Meta:
        model = Artist
        fields = ["display_name", "credit_line"]

    def clean_username(self) -> str:
        username: str = self.cleaned_data["username"].strip()
        if get_user_model().objects.filter(username=username).exists():
            raise ValidationError(_("This username is taken."))
        return username

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("password"):
            # The same rules artist_create applies, checked here so they show on the form.
            user = get_user_model()(username=cleaned.get("username", ""))
            try:
                validate_password(cleaned["password"], user)
            except ValidationError as error:
                self.add_error("password", error)
        return cleaned


# --- Uploads ---------------------------------------------------------------------------------


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFilesField(forms.Field):
    """Many files in one field. Each file is judged on its own later: one bad file must not
    turn the whole batch away, so this field only asks for at least one."""

    widget = MultipleFileInput

    def to_python(self, data: Any) -> list[UploadedFile]:
        if not data:
            return []
        return list(data) if isinstance(data, list | tuple) else [data]

    def validate(self, value: list[UploadedFile]) -> None:
        if self.required and not value:
            raise ValidationError(_("Choose one or more image files."), code="required")


class UploadForm(forms.Form):
    images = MultipleFilesField(
        label=_("Images"),
        widget=MultipleFileInput(attrs={"accept": "image/*"}),
        help_text=_(
            "Choose as many images as you like. Each becomes a work, titled after its file name."
        ),
    )
    allow = forms.MultipleChoiceField(
        label=_("Allow right away"),
        choices=Purpose.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_(
            "Ticked purposes are allowed for the new works. A purpose left unticked follows "
            "the artist's defaults, and is not allowed where there is none (consent first). "
            "You can change this later for each work."
        ),
    )
    license = forms.CharField(
        label=_("Licence"),
        required=False,
        max_length=100,
        help_text=_("For the purposes allowed above: an SPDX licence id such as CC-BY-4.0."),
    )

    def __init__(self, *args: Any, operator: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if operator:
            # Operators upload on an artist's behalf; artists always upload as themselves.
            self.fields["artist"] = forms.ModelChoiceField(
                label=_("Artist"), queryset=Artist.objects.order_by("display_name")
            )
            self.order_fields(["artist"])

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        for purpose in cleaned.get("allow", []):
            try:
                validate_terms(
                    purpose=purpose,
                    permission=Permission.ALLOWED,
                    license=cleaned.get("license", ""),
                )
            except ValidationError as error:
                self.add_error("license", error)
                break
        return cleaned


# --- Bulk actions on the works list ------------------------------------------------------------


class TermsChoiceForm(forms.Form):
    """Which purpose the terms actions change, and the licence to set, if one is typed."""

    purpose = forms.ChoiceField(
        label=_("Purpose:"),
        required=False,
        choices=[("", "---------"), (ALL_PURPOSES, _("All purposes")), *Purpose.choices],
    )
    license = forms.CharField(
        label=_("Licence:"),
        required=False,
        max_length=100,
        widget=forms.TextInput(attrs={"placeholder": _("keep each work's"), "size": 14}),
    )

    def purposes(self) -> Sequence[str]:
        purpose = self.cleaned_data.get("purpose") or ""
        if purpose == ALL_PURPOSES:
            return list(Purpose.values)
        return [purpose] if purpose else []


class TermsActionForm(TermsChoiceForm, helpers.ActionForm):
    """The action bar of the works list: the action, then the purpose and licence it uses."""


# --- Grants, disputes, organizations ------------------------------------------------------------


class GrantForm(forms.ModelForm):
    purposes = forms.MultipleChoiceField(
        label=_("Purposes"), choices=Purpose.choices, widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = Grant
        fields = [
            "artist",
            "organization",
            "purposes",
            "covers_all_works",
            "works",
            "valid_from",
            "valid_until",
        ]
        labels = {"organization": _("Organization"), "artist": _("Artist")}
        help_texts = {
            "covers_all_works": _("Tick to license every work, now and later; else choose works."),
            "valid_until": _("Leave empty for a grant without an end."),
        }

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        works = list(cleaned.get("works") or [])
        if cleaned.get("covers_all_works") == bool(works):
            raise ValidationError(
                _("Either tick “covers all works” or choose works, not both and not neither.")
            )
        artist = cleaned.get("artist") or getattr(self, "artist", None)
        if artist is not None and any(work.artist_id != artist.pk for work in works):
            self.add_error("works", _("A grant can only cover the artist's own works."))
        valid_from, valid_until = cleaned.get("valid_from"), cleaned.get("valid_until")
        if valid_from and valid_until and valid_until <= valid_from:
            self.add_error("valid_until", _("A grant must end after it starts."))
        return cleaned


class DisputeResolveForm(forms.ModelForm):
    resolution = forms.ChoiceField(
        label=_("Resolution"), choices=DisputeResolution.choices, widget=forms.RadioSelect
    )

    class Meta:
        model = Dispute
        fields = ["resolution", "note"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.instance.status != DisputeStatus.OPEN:
            raise ValidationError(_("This dispute is resolved already."))
        return cleaned


class OrganizationForm(forms.ModelForm):
    class Meta:
        model = Organization
        fields = ["name", "kind", "url_prefix", "attestation_key"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "kind" in self.fields:  # left out, an organization is an AI team, as before kinds
            self.fields["kind"].required = False

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if "kind" in self.fields:
            cleaned["kind"] = cleaned.get("kind") or OrganizationKind.AI_TEAM
            cleaned["url_prefix"], cleaned["attestation_key"] = platform_settings_clean(
                kind=cleaned["kind"],
                url_prefix=cleaned.get("url_prefix") or "",
                attestation_key=cleaned.get("attestation_key") or "",
            )
        return cleaned


class APIKeyForm(forms.ModelForm):
    class Meta:
        model = OrganizationAPIKey
        fields = ["organization", "name"]
        labels = {"organization": _("Organization"), "name": _("Name")}
        help_texts = {"name": _("What the key is for, e.g. the team or the machine using it.")}
