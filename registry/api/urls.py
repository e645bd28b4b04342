from rest_framework.routers import SimpleRouter

from . import views

router = SimpleRouter()
router.register("candidates", views.StudyCandidateViewSet, basename="candidate")

urlpatterns = router.urls
