from rest_framework.routers import SimpleRouter

from . import views

router = SimpleRouter()
router.register("trials", views.TrialViewSet, basename="trial")
router.register("conditions", views.ConditionViewSet, basename="condition")

urlpatterns = router.urls
