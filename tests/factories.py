"""factory_boy factories for the objects tests need that no user action creates."""

import factory
from django.contrib.auth.models import User

from registry.models import Artist, Assurance, Organization
from registry.services.artists import artist_verify

TEST_PASSWORD = "correct-horse-battery"


class UserFactory(factory.django.DjangoModelFactory[User]):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    is_staff = True
    password = factory.PostGenerationMethodCall("set_password", TEST_PASSWORD)

    @factory.post_generation
    def saved(obj: User, create: bool, extracted: object, **kwargs: object) -> None:
        if create:
            obj.save()


class ArtistFactory(factory.django.DjangoModelFactory[Artist]):
    class Meta:
        model = Artist
        skip_postgeneration_save = True

    user = factory.SubFactory(UserFactory)
    display_name = factory.Sequence(lambda n: f"Artist {n}")

    @factory.post_generation
    def verified_with(obj: Artist, create: bool, extracted: object, **kwargs: object) -> None:
        """`verified_with="evidence"`: staff verify the artist, through the service and ledger."""
        if create and extracted:
            artist_verify(artist=obj, evidence=str(extracted))


class OrganizationFactory(factory.django.DjangoModelFactory[Organization]):
    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"Organization {n}")


def unverified(artist: Artist) -> Artist:
    """The artist as a new account is, for tests showing that forged fields verify nothing.
    Written behind the ledger's back: such tests never run verify_ledger."""
    Artist.objects.filter(pk=artist.pk).update(
        assurance=Assurance.SELF_ASSERTED, verified=False, verified_at=None
    )
    artist.refresh_from_db()
    return artist
